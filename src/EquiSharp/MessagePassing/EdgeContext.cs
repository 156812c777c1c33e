using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>
/// The edges a message passing layer works on: for each directed edge j → i its source j and
/// target i (the columns of an edge index, see <see cref="GeometricGraph"/>), the number of nodes,
/// and optional edge attributes a_ij. It gathers node tensors onto edges for φ_m(f_i, f_j, a_ij).
/// </summary>
public sealed record EdgeContext
{
    /// <summary>Source node j of every edge [E], int64 (row 0 of the edge index).</summary>
    public required Tensor Source { get; init; }

    /// <summary>Target node i of every edge [E], int64 (row 1 of the edge index); messages are aggregated here.</summary>
    public required Tensor Target { get; init; }

    /// <summary>Number of nodes N (the size of every aggregation).</summary>
    public required long NumNodes { get; init; }

    /// <summary>Edge attributes a_ij [E, B], if any.</summary>
    public Tensor? Attributes { get; init; }

    /// <summary>Number of edges E.</summary>
    public long NumEdges => Source.shape[0];

    /// <summary>Builds a context from an edge index [2, E] (checked against <paramref name="numNodes"/>).</summary>
    public static EdgeContext FromEdgeIndex(Tensor edgeIndex, long numNodes, Tensor? attributes = null, bool validate = true)
    {
        if (validate)
        {
            GraphValidation.CheckEdgeIndex("EdgeContext", edgeIndex, numNodes);
            if (attributes is not null && (attributes.dim() == 0 || attributes.shape[0] != edgeIndex.shape[1]))
                throw new GraphValidationException(
                    $"EdgeContext: edge attributes have shape {GraphValidation.Shape(attributes)}; expected first dimension E = {edgeIndex.shape[1]}.");
        }
        return new EdgeContext { Source = edgeIndex[0], Target = edgeIndex[1], NumNodes = numNodes, Attributes = attributes };
    }

    /// <summary>Builds a context from a batch's edge index and edge attributes.</summary>
    public static EdgeContext FromBatch(GraphBatch batch) => FromEdgeIndex(batch.EdgeIndex, batch.NumNodes, batch.EdgeAttributes);

    /// <summary>f_j for every edge: rows of a node tensor [N, ...] at the sources → [E, ...].</summary>
    public Tensor GatherSource(Tensor nodeTensor) => Gather(nodeTensor, Source, "GatherSource");

    /// <summary>f_i for every edge: rows of a node tensor [N, ...] at the targets → [E, ...].</summary>
    public Tensor GatherTarget(Tensor nodeTensor) => Gather(nodeTensor, Target, "GatherTarget");

    /// <summary>Relative position x_j - x_i for every edge [E, d].</summary>
    public Tensor RelativePositions(Tensor positions) => GatherSource(positions) - GatherTarget(positions);

    private Tensor Gather(Tensor nodeTensor, Tensor index, string op)
    {
        if (nodeTensor.dim() == 0 || nodeTensor.shape[0] != NumNodes)
            throw new GraphValidationException($"EdgeContext.{op}: expected a node tensor with first dimension N = {NumNodes}, got {GraphValidation.Shape(nodeTensor)}.");
        return nodeTensor.index_select(0, index);
    }
}
