using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace EquiSharp.Tests.Equivariance;

/// <summary>Ways to break <see cref="TinyEgnn"/> on purpose.</summary>
internal enum Defect
{
    None,
    /// <summary>Messages use |x_i|² + |x_j|² (absolute positions): rotation invariant but not translation invariant.</summary>
    AbsolutePositions,
    /// <summary>Node features get the node's index in the batch added: depends on node order.</summary>
    NodeIndex,
    /// <summary>Features get the mean over the whole batch added: mixes graphs.</summary>
    MixesGraphs,
}

/// <summary>
/// A small EGNN layer (Satorras et al. 2021) for the tests: invariant messages
/// m_ij = φ_e(h_i, h_j, |x_i − x_j|²), coordinates x_i' = x_i + Σ_j (x_i − x_j) φ_x(m_ij),
/// features h_i' = h_i + φ_h(h_i, Σ_j m_ij), node vectors v_i' = φ_v(h_i) v_i + (x_i' − x_i),
/// aggregation with index_add_ over EdgeIndex[1]; a graph-level readout Σ_i h_i'.
/// </summary>
internal sealed class TinyEgnn
{
    private readonly Sequential _phiE, _phiX, _phiH;
    private readonly Linear _phiV;
    private readonly Defect _defect;
    private readonly long _hidden;

    public TinyEgnn(long features, long hidden = 8, Defect defect = Defect.None, long seed = 7)
    {
        torch.random.manual_seed(seed);
        _defect = defect;
        _hidden = hidden;
        _phiE = Sequential(Linear(2 * features + 1, hidden), SiLU(), Linear(hidden, hidden), SiLU());
        _phiX = Sequential(Linear(hidden, 1), Tanh());
        _phiH = Sequential(Linear(features + hidden, hidden), SiLU(), Linear(hidden, features));
        _phiV = Linear(features, 1);
        foreach (var m in new Module[] { _phiE, _phiX, _phiH, _phiV }) m.to(ScalarType.Float64);
    }

    public static readonly IReadOnlyList<EquiSharp.Equivariance.FieldSpec> Outputs = new[]
    {
        EquiSharp.Equivariance.FieldSpec.Node("positions", EquiSharp.Equivariance.FieldType.Position),
        EquiSharp.Equivariance.FieldSpec.Node("vectors", EquiSharp.Equivariance.FieldType.Vector),
        EquiSharp.Equivariance.FieldSpec.Node("features", EquiSharp.Equivariance.FieldType.Invariant),
        EquiSharp.Equivariance.FieldSpec.Edge("messages", EquiSharp.Equivariance.FieldType.Invariant),
        EquiSharp.Equivariance.FieldSpec.Graph("energy", EquiSharp.Equivariance.FieldType.Invariant),
    };

    public IReadOnlyDictionary<string, Tensor> Forward(GraphBatch b)
    {
        var x = b.Positions;
        var h = b.NodeFeatures!;
        var j = b.EdgeIndex[0];
        var i = b.EdgeIndex[1];
        long n = b.NumNodes;
        var rel = x.index_select(0, i) - x.index_select(0, j);
        var geo = _defect == Defect.AbsolutePositions
            ? (x.index_select(0, i).pow(2).sum(-1, keepdim: true) + x.index_select(0, j).pow(2).sum(-1, keepdim: true))
            : rel.pow(2).sum(-1, keepdim: true);
        var m = _phiE.forward(torch.cat(new[] { h.index_select(0, i), h.index_select(0, j), geo }, -1));
        var dx = torch.zeros_like(x).index_add_(0, i, rel * _phiX.forward(m), 1.0);
        var xNew = x + dx;
        var agg = torch.zeros(n, _hidden, dtype: x.dtype).index_add_(0, i, m, 1.0);
        var hNew = h + _phiH.forward(torch.cat(new[] { h, agg }, -1));
        if (_defect == Defect.NodeIndex)
            hNew = hNew + 0.1 * torch.arange(n, dtype: x.dtype).unsqueeze(-1);
        if (_defect == Defect.MixesGraphs)
            hNew = hNew + hNew.mean(new long[] { 0 }, keepdim: true);
        var v = b.NodeVectors!;
        var vNew = _phiV.forward(h).unsqueeze(-1) * v + dx.unsqueeze(1);
        var energy = torch.zeros(b.NumGraphs, h.shape[1], dtype: x.dtype).index_add_(0, b.Batch, hNew, 1.0);
        return new Dictionary<string, Tensor>
        {
            ["positions"] = xNew, ["vectors"] = vNew, ["features"] = hNew, ["messages"] = m, ["energy"] = energy,
        };
    }
}

/// <summary>Other small models used by the tests.</summary>
internal static class OtherModels
{
    /// <summary>Random graphs with node features [n, 4], node vectors [n, 2, 3], edge attributes [E, 2].</summary>
    public static GraphBatch RandomBatch(long seed, params long[] sizes)
    {
        var gen = new Generator((ulong)seed);
        return GraphBatch.FromGraphs(sizes.Select(n => EquiSharp.Tests.Symmetry.TransformAndPermutationTests.RandomGraph(gen, n)).ToArray());
    }

    /// <summary>Per-graph centroid of the positions, [N, d] (broadcast back to the nodes).</summary>
    public static Tensor Centroids(GraphBatch b)
    {
        var sums = torch.zeros(b.NumGraphs, b.Positions.shape[1], dtype: b.Positions.dtype).index_add_(0, b.Batch, b.Positions, 1.0);
        var counts = torch.tensor(b.NodeCounts, dtype: b.Positions.dtype).unsqueeze(-1);
        return (sums / counts).index_select(0, b.Batch);
    }

    /// <summary>(x_i − centroid) × v_i: a pseudovector per node.</summary>
    public static Tensor CrossProduct(GraphBatch b) =>
        torch.linalg.cross(b.Positions - Centroids(b), b.NodeVectors![.., 0, ..]);
}
