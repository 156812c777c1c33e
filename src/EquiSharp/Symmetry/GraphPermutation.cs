using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Symmetry;

/// <summary>
/// A relabelling of a graph's nodes together with a reordering of its edges.
/// </summary>
/// <remarks>
/// <para><b>Convention (gather form).</b> Row k of a permuted node tensor is row
/// <c>NodePermutation[k]</c> of the original: <c>x' = x[NodePermutation]</c>. Old node i therefore
/// gets the new label <c>InverseNodePermutation[i]</c>, and an edge j → i becomes
/// inv[j] → inv[i]. Edge columns are reordered the same way: column k of the new edge index and row
/// k of the new edge attributes come from old edge <c>EdgePermutation[k]</c>. A node-level output of a
/// permutation-equivariant model transforms as <c>y' = y[NodePermutation]</c>, an edge-level output as
/// <c>y'_e = y[EdgePermutation]</c>, and a graph-level output is unchanged.</para>
/// </remarks>
public sealed class GraphPermutation
{
    /// <summary>Creates a permutation from the node and (optionally) edge gather indices.</summary>
    /// <param name="nodePermutation">A permutation of 0..N−1, int64 [N].</param>
    /// <param name="edgePermutation">A permutation of 0..E−1, int64 [E]; null keeps the edge order (identity).</param>
    /// <param name="numEdges">E, needed only when <paramref name="edgePermutation"/> is null.</param>
    public GraphPermutation(Tensor nodePermutation, Tensor? edgePermutation = null, long numEdges = 0)
    {
        Permutations.Validate(nodePermutation, nameof(nodePermutation));
        NodePermutation = nodePermutation;
        EdgePermutation = edgePermutation ?? torch.arange(numEdges, dtype: ScalarType.Int64, device: nodePermutation.device);
        Permutations.Validate(EdgePermutation, nameof(edgePermutation));
        InverseNodePermutation = Permutations.Inverse(NodePermutation);
        InverseEdgePermutation = Permutations.Inverse(EdgePermutation);
    }

    /// <summary>Gather index of the nodes [N]: new node k is old node NodePermutation[k].</summary>
    public Tensor NodePermutation { get; }

    /// <summary>Gather index of the edges [E]: new edge k is old edge EdgePermutation[k].</summary>
    public Tensor EdgePermutation { get; }

    /// <summary>The new label of each old node [N] (the inverse of <see cref="NodePermutation"/>).</summary>
    public Tensor InverseNodePermutation { get; }

    /// <summary>The new position of each old edge [E] (the inverse of <see cref="EdgePermutation"/>).</summary>
    public Tensor InverseEdgePermutation { get; }

    /// <summary>Number of nodes N.</summary>
    public long NumNodes => NodePermutation.shape[0];

    /// <summary>Number of edges E.</summary>
    public long NumEdges => EdgePermutation.shape[0];

    /// <summary>The inverse permutation: applying it after this one restores the original graph exactly.</summary>
    public GraphPermutation Inverse() => new(InverseNodePermutation, InverseEdgePermutation);

    /// <summary>Permutes a node-level tensor [N, ...]: <c>x[NodePermutation]</c>.</summary>
    public Tensor PermuteNodes(Tensor nodeTensor) => Gather(nodeTensor, NodePermutation, "node", "N", nameof(nodeTensor));

    /// <summary>Permutes an edge-level tensor [E, ...]: <c>x[EdgePermutation]</c>.</summary>
    public Tensor PermuteEdges(Tensor edgeTensor) => Gather(edgeTensor, EdgePermutation, "edge", "E", nameof(edgeTensor));

    /// <summary>Relabels the nodes of an edge index [2, E] and reorders its columns.</summary>
    public Tensor PermuteEdgeIndex(Tensor edgeIndex)
    {
        ArgumentNullException.ThrowIfNull(edgeIndex);
        GraphValidation.CheckEdgeIndex(nameof(edgeIndex), edgeIndex, NumNodes);
        if (edgeIndex.shape[1] != NumEdges)
            throw new ArgumentException($"edgeIndex has {edgeIndex.shape[1]} edges, the permutation {NumEdges}.", nameof(edgeIndex));
        using var scope = torch.NewDisposeScope();
        var inv = InverseNodePermutation.to(edgeIndex.device);
        var relabelled = inv.index_select(0, edgeIndex.reshape(-1)).reshape(2, -1);
        return relabelled.index_select(1, EdgePermutation.to(edgeIndex.device)).MoveToOuterDisposeScope();
    }

    /// <summary>The permuted graph: node tensors gathered, edges relabelled and reordered with their attributes; GraphTarget kept.</summary>
    public GeometricGraph Apply(GeometricGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        CheckSizes(graph.NumNodes, graph.NumEdges, "graph");
        return new GeometricGraph
        {
            Positions = PermuteNodes(graph.Positions),
            EdgeIndex = PermuteEdgeIndex(graph.EdgeIndex),
            NodeFeatures = graph.NodeFeatures is null ? null : PermuteNodes(graph.NodeFeatures),
            NodeVectors = graph.NodeVectors is null ? null : PermuteNodes(graph.NodeVectors),
            NodeAttributes = graph.NodeAttributes is null ? null : PermuteNodes(graph.NodeAttributes),
            EdgeAttributes = graph.EdgeAttributes is null ? null : PermuteEdges(graph.EdgeAttributes),
            GraphTarget = graph.GraphTarget,
            NodeTarget = graph.NodeTarget is null ? null : PermuteNodes(graph.NodeTarget),
        };
    }

    /// <summary>
    /// The permuted batch. The permutation must map every graph of the batch onto itself (as those from
    /// <see cref="RandomWithinGraphs"/> do), so that Batch, Ptr and EdgePtr stay valid; otherwise an
    /// <see cref="ArgumentException"/> says so. The result owns new tensors (Batch, Ptr, EdgePtr are copied).
    /// </summary>
    public GraphBatch Apply(GraphBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        CheckSizes(batch.NumNodes, batch.NumEdges, "batch");
        using (var scope = torch.NewDisposeScope())
        {
            var nodePerm = NodePermutation.to(batch.Batch.device);
            if (!Permutations.SameValues(batch.Batch.index_select(0, nodePerm), batch.Batch))
                throw new ArgumentException("The node permutation moves nodes between graphs of the batch; use GraphPermutation.RandomWithinGraphs.", nameof(batch));
            if (NumEdges > 0)
            {
                var edgeGraph = batch.Batch.index_select(0, batch.EdgeIndex[1]);
                if (!Permutations.SameValues(edgeGraph.index_select(0, EdgePermutation.to(edgeGraph.device)), edgeGraph))
                    throw new ArgumentException("The edge permutation moves edges between graphs of the batch; use GraphPermutation.RandomWithinGraphs.", nameof(batch));
            }
        }
        return batch with
        {
            Positions = PermuteNodes(batch.Positions),
            EdgeIndex = PermuteEdgeIndex(batch.EdgeIndex),
            Batch = batch.Batch.clone(),
            Ptr = batch.Ptr.clone(),
            EdgePtr = batch.EdgePtr.clone(),
            NodeFeatures = batch.NodeFeatures is null ? null : PermuteNodes(batch.NodeFeatures),
            NodeVectors = batch.NodeVectors is null ? null : PermuteNodes(batch.NodeVectors),
            NodeAttributes = batch.NodeAttributes is null ? null : PermuteNodes(batch.NodeAttributes),
            EdgeAttributes = batch.EdgeAttributes is null ? null : PermuteEdges(batch.EdgeAttributes),
            GraphTarget = batch.GraphTarget?.clone(),
            NodeTarget = batch.NodeTarget is null ? null : PermuteNodes(batch.NodeTarget),
        };
    }

    /// <summary>A uniformly random node permutation and (when <paramref name="permuteEdges"/>) edge permutation.</summary>
    public static GraphPermutation Random(long numNodes, long numEdges, Generator? generator = null, bool permuteEdges = true, Device? device = null)
    {
        var nodes = Permutations.Random(numNodes, generator, device);
        var edges = permuteEdges ? Permutations.Random(numEdges, generator, device) : null;
        return new GraphPermutation(nodes, edges, numEdges);
    }

    /// <summary>A uniformly random permutation for <paramref name="graph"/>.</summary>
    public static GraphPermutation Random(GeometricGraph graph, Generator? generator = null, bool permuteEdges = true)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return Random(graph.NumNodes, graph.NumEdges, generator, permuteEdges, graph.Positions.device);
    }

    /// <summary>
    /// A random permutation of <paramref name="batch"/> that permutes nodes (and edges) only within each
    /// graph, so the batch structure is preserved: a block-diagonal uniformly random permutation.
    /// </summary>
    public static GraphPermutation RandomWithinGraphs(GraphBatch batch, Generator? generator = null, bool permuteEdges = true)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Tensor nodes, edges;
        using (var scope = torch.NewDisposeScope())
        {
            var device = batch.Positions.device;
            var nodeParts = new List<Tensor>();
            var edgeParts = new List<Tensor>();
            long n0 = 0, e0 = 0;
            for (int g = 0; g < batch.NumGraphs; g++)
            {
                nodeParts.Add(Permutations.Random(batch.NodeCounts[g], generator) + n0);
                edgeParts.Add(permuteEdges ? Permutations.Random(batch.EdgeCounts[g], generator) + e0
                    : torch.arange(e0, e0 + batch.EdgeCounts[g], dtype: ScalarType.Int64));
                n0 += batch.NodeCounts[g];
                e0 += batch.EdgeCounts[g];
            }
            nodes = torch.cat(nodeParts, 0).to(device).MoveToOuterDisposeScope();
            edges = torch.cat(edgeParts, 0).to(device).MoveToOuterDisposeScope();
        }
        return new GraphPermutation(nodes, edges);
    }

    private void CheckSizes(long n, long e, string what)
    {
        if (n != NumNodes || e != NumEdges)
            throw new ArgumentException($"The {what} has N = {n} nodes and E = {e} edges; the permutation is for N = {NumNodes}, E = {NumEdges}.", what);
    }

    private static Tensor Gather(Tensor t, Tensor index, string level, string symbol, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() == 0 || t.shape[0] != index.shape[0])
            throw new ArgumentException($"{name}: expected a {level}-level tensor with first dimension {symbol} = {index.shape[0]}, got {GraphValidation.Shape(t)}.", name);
        return t.index_select(0, index.to(t.device));
    }
}

/// <summary>Random permutations and their inverses as int64 index tensors (gather form: x' = x[perm]).</summary>
public static class Permutations
{
    /// <summary>A uniformly random permutation of 0..n−1, int64 [n], drawn on the CPU with <paramref name="generator"/>.</summary>
    public static Tensor Random(long n, Generator? generator = null, Device? device = null)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be non-negative.");
        if (n == 0) return torch.empty(0, dtype: ScalarType.Int64, device: device);
        // argsort of uniform noise: randperm's generator overloads differ between TorchSharp versions.
        using var u = torch.rand(new[] { n }, dtype: ScalarType.Float64, generator: generator);
        using var perm = u.argsort();
        return perm.to(device ?? CPU);
    }

    /// <summary>The inverse permutation: inv[perm[k]] = k.</summary>
    public static Tensor Inverse(Tensor permutation)
    {
        Validate(permutation, nameof(permutation));
        long n = permutation.shape[0];
        using var values = torch.arange(n, dtype: ScalarType.Int64, device: permutation.device);
        return torch.empty(n, dtype: ScalarType.Int64, device: permutation.device).index_put_(values, permutation);
    }

    /// <summary>Throws unless <paramref name="permutation"/> is an int64 vector holding each of 0..n−1 exactly once.</summary>
    public static void Validate(Tensor permutation, string name = "permutation")
    {
        ArgumentNullException.ThrowIfNull(permutation, name);
        if (permutation.dim() != 1 || permutation.dtype != ScalarType.Int64)
            throw new ArgumentException($"{name} must be an int64 vector [n], got {GraphValidation.Shape(permutation)} ({permutation.dtype}).", name);
        long n = permutation.shape[0];
        if (n == 0) return;
        using var scope = torch.NewDisposeScope();
        var sorted = permutation.sort().Values;
        if (!SameValues(sorted, torch.arange(n, dtype: ScalarType.Int64, device: permutation.device)))
            throw new ArgumentException($"{name} is not a permutation of 0..{n - 1} (it repeats or skips an index).", name);
    }

    internal static bool SameValues(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }
}
