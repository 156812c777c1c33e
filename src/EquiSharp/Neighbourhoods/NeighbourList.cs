using static TorchSharp.torch;

namespace EquiSharp.Neighbourhoods;

/// <summary>
/// The result of a neighbour search: the directed edges and how many candidate edges a per-node
/// cap removed, so that truncation is never silent.
/// </summary>
/// <remarks>
/// <para><see cref="EdgeIndex"/> follows the EquiSharp convention ([2, E] int64, row 0 = source j,
/// row 1 = target i, messages aggregate over row 1) and is sorted by target, then by source
/// (lexicographic on (i, j)). Indices are global node indices of the batch; graphs never share an
/// edge.</para>
/// <para>The list owns its tensors; dispose it (or move the tensors you keep out of it) when done.</para>
/// </remarks>
public sealed record NeighbourList : IDisposable
{
    /// <summary>Directed edges j → i, [2, E] int64, sorted by target i then source j.</summary>
    public required Tensor EdgeIndex { get; init; }

    /// <summary>
    /// Edges that satisfied the neighbourhood criterion but were removed by a per-node cap
    /// (<c>maxNeighbours</c>); 0 when no cap was requested or none was hit.
    /// </summary>
    public long DroppedEdges { get; init; }

    /// <summary>Number of target nodes that lost at least one edge to the cap.</summary>
    public long TruncatedNodes { get; init; }

    /// <summary>
    /// Relative vectors x_j − x_i per edge [E, d] (source minus target), in the dtype and on the
    /// device of the positions, differentiable with respect to them; null unless requested.
    /// </summary>
    public Tensor? Vectors { get; init; }

    /// <summary>Edge lengths |x_j − x_i| [E], like <see cref="Vectors"/>; null unless requested.</summary>
    public Tensor? Distances { get; init; }

    /// <summary>Number of edges E.</summary>
    public long NumEdges => EdgeIndex.shape[1];

    /// <summary>Disposes the tensors of the list.</summary>
    public void Dispose()
    {
        EdgeIndex.Dispose();
        Vectors?.Dispose();
        Distances?.Dispose();
    }
}
