using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Graphs;

/// <summary>
/// Many graphs as one disjoint graph: node and edge tensors concatenated, edge indices offset by
/// the node count of the graphs before them, plus the <see cref="Batch"/> vector (graph of each
/// node) and the <see cref="Ptr"/>/<see cref="EdgePtr"/> offsets used to split it back.
/// </summary>
/// <remarks>
/// Node-level tensors have N = sum of N_g rows, edge-level tensors E = sum of E_g rows, and
/// <see cref="GraphTarget"/> has one row per graph ([G, T]). The edge convention is that of
/// <see cref="GeometricGraph"/>: row 0 source, row 1 target. A batch owns the tensors it created;
/// dispose it when done (TorchSharp's DataLoader does so after each iteration).
/// </remarks>
public sealed record GraphBatch : IDisposable
{
    /// <summary>Node positions [N, d].</summary>
    public required Tensor Positions { get; init; }

    /// <summary>Directed edges [2, E] with global node indices.</summary>
    public required Tensor EdgeIndex { get; init; }

    /// <summary>Graph index of every node [N], int64, non-decreasing.</summary>
    public required Tensor Batch { get; init; }

    /// <summary>Node offsets [G + 1], int64: graph g owns nodes Ptr[g] .. Ptr[g+1]-1.</summary>
    public required Tensor Ptr { get; init; }

    /// <summary>Edge offsets [G + 1], int64: graph g owns edge columns EdgePtr[g] .. EdgePtr[g+1]-1.</summary>
    public required Tensor EdgePtr { get; init; }

    /// <summary>Node counts per graph (host copy of the differences of <see cref="Ptr"/>).</summary>
    public required long[] NodeCounts { get; init; }

    /// <summary>Edge counts per graph (host copy of the differences of <see cref="EdgePtr"/>).</summary>
    public required long[] EdgeCounts { get; init; }

    /// <summary>Invariant node features [N, F].</summary>
    public Tensor? NodeFeatures { get; init; }

    /// <summary>Per-node vectors [N, C, d].</summary>
    public Tensor? NodeVectors { get; init; }

    /// <summary>Node attributes [N, A].</summary>
    public Tensor? NodeAttributes { get; init; }

    /// <summary>Edge attributes [E, B].</summary>
    public Tensor? EdgeAttributes { get; init; }

    /// <summary>Graph-level targets [G, T].</summary>
    public Tensor? GraphTarget { get; init; }

    /// <summary>Node-level targets [N, ...].</summary>
    public Tensor? NodeTarget { get; init; }

    /// <summary>Number of graphs G.</summary>
    public int NumGraphs => NodeCounts.Length;

    /// <summary>Total number of nodes N.</summary>
    public long NumNodes => Positions.shape[0];

    /// <summary>Total number of edges E.</summary>
    public long NumEdges => EdgeIndex.shape[1];

    /// <summary>
    /// Concatenates graphs into one disjoint graph. Every optional field must be present in all
    /// graphs or in none, with equal trailing shapes and dtypes; otherwise the error names the
    /// graph and the field. Each graph is validated first.
    /// </summary>
    /// <param name="graphs">At least one graph.</param>
    /// <param name="device">Target device (default: that of the first graph).</param>
    /// <param name="validate">Validate each graph (edge ranges, finiteness); on by default.</param>
    public static GraphBatch FromGraphs(IReadOnlyList<GeometricGraph> graphs, Device? device = null, bool validate = true)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        if (graphs.Count == 0)
            throw new GraphValidationException("Cannot batch an empty list of graphs.");
        if (validate)
            for (int g = 0; g < graphs.Count; g++)
                graphs[g].Validate($"graph {g}");

        device ??= graphs[0].Positions.device;
        var nodeCounts = new long[graphs.Count];
        var edgeCounts = new long[graphs.Count];
        var ptr = new long[graphs.Count + 1];
        var edgePtr = new long[graphs.Count + 1];
        for (int g = 0; g < graphs.Count; g++)
        {
            nodeCounts[g] = graphs[g].NumNodes;
            edgeCounts[g] = graphs[g].NumEdges;
            ptr[g + 1] = ptr[g] + nodeCounts[g];
            edgePtr[g + 1] = edgePtr[g] + edgeCounts[g];
        }

        using var scope = torch.NewDisposeScope();
        var positions = Concat(graphs, "Positions", x => x.Positions, device)!;
        using var nodeOffsets = torch.tensor(ptr.AsSpan(0, graphs.Count).ToArray(), device: device);
        using var edgeCountsT = torch.tensor(edgeCounts, device: device);
        var edgeIndex = Concat(graphs, "EdgeIndex", x => x.EdgeIndex, device)!;
        if (edgePtr[^1] > 0)
            edgeIndex = edgeIndex + nodeOffsets.repeat_interleave(edgeCountsT, output_size: edgePtr[^1]).unsqueeze(0);
        var batch = torch.arange(graphs.Count, dtype: ScalarType.Int64, device: device)
            .repeat_interleave(torch.tensor(nodeCounts, device: device), output_size: ptr[^1]);

        var result = new GraphBatch
        {
            Positions = positions,
            EdgeIndex = edgeIndex,
            Batch = batch,
            Ptr = torch.tensor(ptr, device: device),
            EdgePtr = torch.tensor(edgePtr, device: device),
            NodeCounts = nodeCounts,
            EdgeCounts = edgeCounts,
            NodeFeatures = Concat(graphs, "NodeFeatures", x => x.NodeFeatures, device),
            NodeVectors = Concat(graphs, "NodeVectors", x => x.NodeVectors, device),
            NodeAttributes = Concat(graphs, "NodeAttributes", x => x.NodeAttributes, device),
            EdgeAttributes = Concat(graphs, "EdgeAttributes", x => x.EdgeAttributes, device),
            GraphTarget = Stack(graphs, device),
            NodeTarget = Concat(graphs, "NodeTarget", x => x.NodeTarget, device),
        };
        result.MoveToOuterScope();
        return result;
    }

    /// <summary>Graph <paramref name="g"/> as a standalone graph (views into the batch, edges re-indexed from 0).</summary>
    public GeometricGraph GetGraph(int g)
    {
        if (g < 0 || g >= NumGraphs)
            throw new ArgumentOutOfRangeException(nameof(g), g, $"The batch holds {NumGraphs} graphs.");
        long n0 = 0, e0 = 0;
        for (int k = 0; k < g; k++) { n0 += NodeCounts[k]; e0 += EdgeCounts[k]; }
        long n = NodeCounts[g], e = EdgeCounts[g];
        return new GeometricGraph
        {
            Positions = Positions.narrow(0, n0, n),
            EdgeIndex = EdgeIndex.narrow(1, e0, e) - n0,
            NodeFeatures = NodeFeatures?.narrow(0, n0, n),
            NodeVectors = NodeVectors?.narrow(0, n0, n),
            NodeAttributes = NodeAttributes?.narrow(0, n0, n),
            EdgeAttributes = EdgeAttributes?.narrow(0, e0, e),
            GraphTarget = GraphTarget?[g],
            NodeTarget = NodeTarget?.narrow(0, n0, n),
        };
    }

    /// <summary>Splits the batch back into its graphs.</summary>
    public IReadOnlyList<GeometricGraph> Split() => Enumerable.Range(0, NumGraphs).Select(GetGraph).ToArray();

    /// <summary>Splits a node-level tensor [N, ...] (e.g. a model output) into one tensor per graph.</summary>
    public Tensor[] SplitNodes(Tensor nodeTensor)
    {
        if (nodeTensor.dim() == 0 || nodeTensor.shape[0] != NumNodes)
            throw new GraphValidationException($"SplitNodes: expected a tensor with first dimension N = {NumNodes}, got {GraphValidation.Shape(nodeTensor)}.");
        return nodeTensor.split(NodeCounts, 0);
    }

    /// <summary>The disjoint union as one <see cref="GeometricGraph"/> (graph-level targets dropped).</summary>
    public GeometricGraph AsGraph() => new()
    {
        Positions = Positions,
        EdgeIndex = EdgeIndex,
        NodeFeatures = NodeFeatures,
        NodeVectors = NodeVectors,
        NodeAttributes = NodeAttributes,
        EdgeAttributes = EdgeAttributes,
        NodeTarget = NodeTarget,
    };

    /// <summary>Validates shapes and edge ranges of the whole batch.</summary>
    public void Validate(string name = "batch")
    {
        GraphValidation.ValidateParts(name, Positions, EdgeIndex, NodeFeatures, NodeVectors, NodeAttributes, EdgeAttributes, NodeTarget);
        if (Batch.dim() != 1 || Batch.shape[0] != NumNodes)
            throw new GraphValidationException($"{name}: Batch must have shape [N = {NumNodes}], got {GraphValidation.Shape(Batch)}.");
        if (GraphTarget is not null && (GraphTarget.dim() == 0 || GraphTarget.shape[0] != NumGraphs))
            throw new GraphValidationException($"{name}: GraphTarget must have first dimension G = {NumGraphs}, got {GraphValidation.Shape(GraphTarget)}.");
    }

    /// <summary>Moves (copies) every tensor to <paramref name="device"/>.</summary>
    public GraphBatch To(Device device) => this with
    {
        Positions = Positions.to(device),
        EdgeIndex = EdgeIndex.to(device),
        Batch = Batch.to(device),
        Ptr = Ptr.to(device),
        EdgePtr = EdgePtr.to(device),
        NodeFeatures = NodeFeatures?.to(device),
        NodeVectors = NodeVectors?.to(device),
        NodeAttributes = NodeAttributes?.to(device),
        EdgeAttributes = EdgeAttributes?.to(device),
        GraphTarget = GraphTarget?.to(device),
        NodeTarget = NodeTarget?.to(device),
    };

    private IEnumerable<Tensor> OwnedTensors()
    {
        foreach (var t in new[] { Positions, EdgeIndex, Batch, Ptr, EdgePtr, NodeFeatures, NodeVectors, NodeAttributes, EdgeAttributes, GraphTarget, NodeTarget })
            if (t is not null) yield return t;
    }

    private void MoveToOuterScope()
    {
        foreach (var t in OwnedTensors()) t.MoveToOuterDisposeScope();
    }

    /// <summary>Disposes the batch's tensors.</summary>
    public void Dispose()
    {
        foreach (var t in OwnedTensors()) t.Dispose();
    }

    private static Tensor? Concat(IReadOnlyList<GeometricGraph> graphs, string field, Func<GeometricGraph, Tensor?> get, Device device)
    {
        var first = get(graphs[0]);
        var parts = new Tensor[graphs.Count];
        for (int g = 0; g < graphs.Count; g++)
        {
            var t = get(graphs[g]);
            if ((t is null) != (first is null))
                throw new GraphValidationException(
                    $"graph {g}: {field} is {(t is null ? "missing" : "present")} but graph 0 {(first is null ? "has none" : "has it")}; a field must be in all graphs of a batch or in none.");
            if (t is null) continue;
            CheckCompatible(field, g, first!, t);
            parts[g] = t;
        }
        if (first is null) return null;
        int dim = field == "EdgeIndex" ? 1 : 0;
        return torch.cat(parts, dim).to(device);
    }

    private static Tensor? Stack(IReadOnlyList<GeometricGraph> graphs, Device device)
    {
        var first = graphs[0].GraphTarget;
        var parts = new Tensor[graphs.Count];
        for (int g = 0; g < graphs.Count; g++)
        {
            var t = graphs[g].GraphTarget;
            if ((t is null) != (first is null))
                throw new GraphValidationException(
                    $"graph {g}: GraphTarget is {(t is null ? "missing" : "present")} but graph 0 {(first is null ? "has none" : "has it")}; a field must be in all graphs of a batch or in none.");
            if (t is null) continue;
            if (!t.shape.SequenceEqual(first!.shape) || t.dtype != first.dtype)
                throw new GraphValidationException(
                    $"graph {g}: GraphTarget has shape {GraphValidation.Shape(t)} ({t.dtype}), graph 0 has {GraphValidation.Shape(first)} ({first.dtype}).");
            parts[g] = t;
        }
        return first is null ? null : torch.stack(parts, 0).to(device);
    }

    private static void CheckCompatible(string field, int g, Tensor first, Tensor t)
    {
        // Edge index: [2, E_g]; every other field: [count_g, ...trailing].
        bool compatible = t.dim() == first.dim() && t.dtype == first.dtype && (field == "EdgeIndex"
            ? t.shape[0] == first.shape[0]
            : t.shape.Skip(1).SequenceEqual(first.shape.Skip(1)));
        if (!compatible)
            throw new GraphValidationException(
                $"graph {g}: {field} has shape {GraphValidation.Shape(t)} ({t.dtype}), incompatible with graph 0's {GraphValidation.Shape(first)} ({first.dtype}).");
    }
}
