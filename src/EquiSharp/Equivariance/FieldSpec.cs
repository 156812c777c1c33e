using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Equivariance;

/// <summary>What the first dimension of a tensor indexes, which decides how permutations and batching act on it.</summary>
public enum FieldLevel
{
    /// <summary>One row per node (or per point, for plain functions): [N, ...]; permuted with the nodes.</summary>
    Node,

    /// <summary>One row per edge: [E, ...]; permuted with the edges.</summary>
    Edge,

    /// <summary>One row per graph: [G, ...] (for plain functions: any shape, not indexed by points); unchanged by permutations.</summary>
    Graph,
}

/// <summary>A declared model output: its name, how it transforms, and what its first dimension indexes.</summary>
/// <param name="Name">Key of the output (for single-tensor models, any name used in reports).</param>
/// <param name="Type">How the output transforms under E(d) (<see cref="FieldType"/>).</param>
/// <param name="Level">Node [N, ...], edge [E, ...] or graph [G, ...].</param>
public sealed record FieldSpec(string Name, FieldType Type, FieldLevel Level)
{
    /// <summary>A node-level output [N, ...].</summary>
    public static FieldSpec Node(string name, FieldType type) => new(name, type, FieldLevel.Node);

    /// <summary>An edge-level output [E, ...].</summary>
    public static FieldSpec Edge(string name, FieldType type) => new(name, type, FieldLevel.Edge);

    /// <summary>A graph-level output [G, ...].</summary>
    public static FieldSpec Graph(string name, FieldType type) => new(name, type, FieldLevel.Graph);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Level.ToString().ToLowerInvariant()} {Type.Name})";
}

/// <summary>
/// How each input field of a <see cref="GraphBatch"/> transforms. Defaults: Positions = position,
/// NodeVectors = vector, everything else invariant. Set a field to a <see cref="RepresentationField"/>
/// for steerable inputs (e.g. NodeAttributes holding irreps).
/// </summary>
public sealed record InputFieldTypes
{
    /// <summary>Type of <see cref="GraphBatch.Positions"/> (default <see cref="FieldType.Position"/>).</summary>
    public FieldType Positions { get; init; } = FieldType.Position;

    /// <summary>Type of <see cref="GraphBatch.NodeVectors"/> [N, C, d] (default <see cref="FieldType.Vector"/>).</summary>
    public FieldType NodeVectors { get; init; } = FieldType.Vector;

    /// <summary>Type of <see cref="GraphBatch.NodeFeatures"/> (default invariant).</summary>
    public FieldType NodeFeatures { get; init; } = FieldType.Invariant;

    /// <summary>Type of <see cref="GraphBatch.NodeAttributes"/> (default invariant).</summary>
    public FieldType NodeAttributes { get; init; } = FieldType.Invariant;

    /// <summary>Type of <see cref="GraphBatch.EdgeAttributes"/> (default invariant; recompute geometric ones with <see cref="EquivarianceOptions.RecomputeInputs"/>).</summary>
    public FieldType EdgeAttributes { get; init; } = FieldType.Invariant;

    /// <summary>Type of <see cref="GraphBatch.NodeTarget"/> (default invariant; models should not read targets).</summary>
    public FieldType NodeTarget { get; init; } = FieldType.Invariant;

    /// <summary>Type of <see cref="GraphBatch.GraphTarget"/> (default invariant).</summary>
    public FieldType GraphTarget { get; init; } = FieldType.Invariant;

    /// <summary>
    /// The batch transformed by <paramref name="transform"/> (each field by its type) and then permuted by
    /// <paramref name="permutation"/> (within graphs). Either may be null. The result owns new tensors.
    /// </summary>
    public GraphBatch Apply(GraphBatch batch, EuclideanTransform? transform, GraphPermutation? permutation = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var transformed = Map(batch, (x, type, _) => transform is null ? x.clone() : type.Apply(x, transform));
        if (permutation is null) return transformed;
        var permuted = permutation.Apply(transformed);
        transformed.Dispose();
        return permuted;
    }

    /// <summary>
    /// A copy of <paramref name="batch"/> whose present fields are <paramref name="map"/>(value, type, level)
    /// and whose structure (edges, graph index and offsets) is cloned, so the result owns new tensors.
    /// An <see cref="ArgumentException"/> from <paramref name="map"/> is re-thrown naming the field.
    /// </summary>
    internal GraphBatch Map(GraphBatch batch, Func<Tensor, FieldType, FieldLevel, Tensor> map)
    {
        Tensor? M(Tensor? x, FieldType type, FieldLevel level, string field)
        {
            if (x is null) return null;
            try { return map(x, type, level); }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Input {field} {GraphValidation.Shape(x)} cannot be transformed as '{type.Name}': {e.Message}", e);
            }
        }
        return batch with
        {
            Positions = M(batch.Positions, Positions, FieldLevel.Node, "Positions")!,
            EdgeIndex = batch.EdgeIndex.clone(),
            Batch = batch.Batch.clone(),
            Ptr = batch.Ptr.clone(),
            EdgePtr = batch.EdgePtr.clone(),
            NodeFeatures = M(batch.NodeFeatures, NodeFeatures, FieldLevel.Node, "NodeFeatures"),
            NodeVectors = M(batch.NodeVectors, NodeVectors, FieldLevel.Node, "NodeVectors"),
            NodeAttributes = M(batch.NodeAttributes, NodeAttributes, FieldLevel.Node, "NodeAttributes"),
            EdgeAttributes = M(batch.EdgeAttributes, EdgeAttributes, FieldLevel.Edge, "EdgeAttributes"),
            NodeTarget = M(batch.NodeTarget, NodeTarget, FieldLevel.Node, "NodeTarget"),
            GraphTarget = M(batch.GraphTarget, GraphTarget, FieldLevel.Graph, "GraphTarget"),
        };
    }
}
