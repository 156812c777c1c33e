using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Neighbourhoods;

/// <summary>
/// Fully connected graphs: every ordered pair (j → i) of nodes of the same graph, optionally with
/// self-loops i → i.
/// </summary>
/// <remarks>
/// A graph of n nodes gets n(n − 1) edges (n² with self-loops). The edge index is sorted by target
/// i, then source j, and graphs of a batch are never connected to each other. It is built with a
/// few vectorised tensor operations (no per-edge managed loop), on the device of the batch vector
/// (CPU for the count-based overloads unless a device is given). The edge count grows
/// quadratically: use <see cref="RadiusGraph"/> or <see cref="KnnGraph"/> for large graphs.
/// </remarks>
public static class FullyConnectedGraph
{
    /// <summary>Fully connected edges of one graph with <paramref name="numNodes"/> nodes.</summary>
    /// <param name="numNodes">Number of nodes n ≥ 0.</param>
    /// <param name="selfLoops">Also add i → i for every node.</param>
    /// <param name="device">Device of the result (default CPU).</param>
    /// <returns>Edge index [2, n(n − 1)] (or [2, n²]) int64 sorted by target then source.</returns>
    public static Tensor Build(long numNodes, bool selfLoops = false, Device? device = null)
    {
        if (numNodes < 0)
            throw new ArgumentOutOfRangeException(nameof(numNodes), numNodes, "The number of nodes must be non-negative.");
        return FromNodeCounts([numNodes], selfLoops, device);
    }

    /// <summary>Fully connected edges of every graph of a batch given by its sorted batch vector.</summary>
    /// <param name="batch">Graph index of every node [N], int64, sorted non-decreasing (as <see cref="GraphBatch.Batch"/>).</param>
    /// <param name="selfLoops">Also add i → i for every node.</param>
    /// <returns>Edge index [2, Σ n_g(n_g − 1)] int64 with global node indices, on the device of <paramref name="batch"/>.</returns>
    public static Tensor Build(Tensor batch, bool selfLoops = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() != 1)
            throw new GraphValidationException($"FullyConnectedGraph: batch must have shape [N], got {GraphValidation.Shape(batch)}.");
        var ptr = NeighbourInput.PtrFromBatch("FullyConnectedGraph", batch, checked((int)batch.shape[0]));
        var counts = new long[ptr.Length - 1];
        for (int g = 0; g < counts.Length; g++) counts[g] = ptr[g + 1] - ptr[g];
        return FromNodeCounts(counts, selfLoops, batch.device);
    }

    /// <summary>Fully connected edges of every graph of a <see cref="GraphBatch"/> (from its node counts).</summary>
    /// <param name="batch">The batch; only <see cref="GraphBatch.NodeCounts"/> and the device of its positions are used.</param>
    /// <param name="selfLoops">Also add i → i for every node.</param>
    public static Tensor Build(GraphBatch batch, bool selfLoops = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return FromNodeCounts(batch.NodeCounts, selfLoops, batch.Positions.device);
    }

    /// <summary>Fully connected edges of consecutive graphs with the given node counts.</summary>
    /// <param name="nodeCounts">Node count of every graph (each ≥ 0); graph g owns the nodes after those of graphs 0..g−1.</param>
    /// <param name="selfLoops">Also add i → i for every node.</param>
    /// <param name="device">Device of the result (default CPU).</param>
    public static Tensor FromNodeCounts(IReadOnlyList<long> nodeCounts, bool selfLoops = false, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(nodeCounts);
        device ??= torch.CPU;
        long n = 0, e = 0;
        var counts = new long[nodeCounts.Count];
        var ptr = new long[nodeCounts.Count];
        for (int g = 0; g < counts.Length; g++)
        {
            long c = nodeCounts[g];
            if (c < 0)
                throw new ArgumentOutOfRangeException(nameof(nodeCounts), c, $"nodeCounts[{g}] is negative.");
            counts[g] = c;
            ptr[g] = n;
            n += c;
            e += selfLoops ? c * c : c * (c - 1);
        }
        if (e == 0) return torch.empty([2, 0], ScalarType.Int64, device: device);

        using var scope = torch.NewDisposeScope();
        var countsT = torch.tensor(counts, device: device);
        var ptrT = torch.tensor(ptr, device: device);
        var graphOfNode = torch.arange(counts.Length, ScalarType.Int64, device: device).repeat_interleave(countsT, output_size: n);
        var nodeStart = ptrT.index_select(0, graphOfNode);                        // first node of the node's graph
        var degree = countsT.index_select(0, graphOfNode) - (selfLoops ? 0 : 1);  // edges received by each node
        var target = torch.arange(n, ScalarType.Int64, device: device).repeat_interleave(degree, output_size: e);
        var blockStart = degree.cumsum(0) - degree;                               // first edge of each target
        var rank = torch.arange(e, ScalarType.Int64, device: device) - blockStart.index_select(0, target);
        var source = nodeStart.index_select(0, target) + rank;
        if (!selfLoops)
        {
            // Sources of target i are its graph's nodes other than i, in order: skip i itself.
            var localTarget = target - nodeStart.index_select(0, target);
            source = source + (rank >= localTarget).to_type(ScalarType.Int64);
        }
        return torch.stack([source, target], 0).MoveToOuterDisposeScope();
    }
}
