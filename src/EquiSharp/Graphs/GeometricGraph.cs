using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Graphs;

/// <summary>
/// One geometric graph: nodes with positions in R^d and optional features, and directed edges.
/// </summary>
/// <remarks>
/// <para><b>Edge convention (used everywhere in EquiSharp):</b> <see cref="EdgeIndex"/> has shape
/// [2, E]; column e is the directed edge j → i with <c>EdgeIndex[0, e] = j</c> (the source, the
/// neighbour that sends the message) and <c>EdgeIndex[1, e] = i</c> (the target, the node that
/// receives and aggregates it). Messages m_ij are therefore aggregated over <c>EdgeIndex[1]</c>.
/// This is PyTorch Geometric's default "source_to_target" flow.</para>
/// <para>Shapes: N nodes, E edges, d spatial dimensions. All tensors live on one device; node and
/// edge tensors are indexed along their first dimension.</para>
/// </remarks>
public sealed record GeometricGraph
{
    /// <summary>Node positions [N, d], floating point, finite.</summary>
    public required Tensor Positions { get; init; }

    /// <summary>Directed edges [2, E], int64; row 0 = source j, row 1 = target i.</summary>
    public required Tensor EdgeIndex { get; init; }

    /// <summary>Invariant node features [N, F] (e.g. one-hot species, charges).</summary>
    public Tensor? NodeFeatures { get; init; }

    /// <summary>Per-node vectors [N, C, d] that rotate with the positions but do not translate (e.g. velocities, C = 1).</summary>
    public Tensor? NodeVectors { get; init; }

    /// <summary>Node attributes [N, A] that condition layers without being updated (e.g. steerable attributes).</summary>
    public Tensor? NodeAttributes { get; init; }

    /// <summary>Edge attributes [E, B], aligned with the columns of <see cref="EdgeIndex"/>.</summary>
    public Tensor? EdgeAttributes { get; init; }

    /// <summary>Graph-level target [T] (one row per graph after batching).</summary>
    public Tensor? GraphTarget { get; init; }

    /// <summary>Node-level target [N, ...] (e.g. future positions, forces).</summary>
    public Tensor? NodeTarget { get; init; }

    /// <summary>Number of nodes N.</summary>
    public long NumNodes => Positions.shape.Length > 0 ? Positions.shape[0] : 0;

    /// <summary>Number of edges E.</summary>
    public long NumEdges => EdgeIndex.shape.Length == 2 ? EdgeIndex.shape[1] : 0;

    /// <summary>Spatial dimension d.</summary>
    public long SpatialDim => Positions.shape.Length == 2 ? Positions.shape[1] : 0;

    /// <summary>
    /// Checks shapes, dtypes, edge index range and finiteness of the positions.
    /// </summary>
    /// <param name="name">How the graph is named in error messages (e.g. "graph 17").</param>
    /// <exception cref="GraphValidationException">Naming the field and the offending shape or value.</exception>
    public void Validate(string name = "graph") => GraphValidation.Validate(this, name);
}
