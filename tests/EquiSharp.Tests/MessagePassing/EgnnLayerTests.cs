using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.MessagePassing;

/// <summary>
/// Compact E(n) checks (float64) for the EGNN layer; the project's equivariance kit will replace
/// these helpers.
/// </summary>
internal static class E3
{
    /// <summary>A random orthogonal 3x3 matrix (QR of a Gaussian matrix, sign-fixed); det -1 when <paramref name="reflect"/>.</summary>
    public static Tensor RandomOrthogonal(Generator gen, bool reflect)
    {
        var (q, r) = torch.linalg.qr(torch.randn(new long[] { 3, 3 }, dtype: ScalarType.Float64, generator: gen));
        q = q * r.diagonal().sign().unsqueeze(0);
        double det = torch.linalg.det(q).item<double>();
        if ((det < 0) != reflect) q = q * torch.tensor(new[] { -1.0, 1, 1 }, dtype: ScalarType.Float64).unsqueeze(0);
        return q;
    }

    /// <summary>A permutation of each block of <paramref name="block"/> consecutive nodes (node k of the result is node perm[k] of the input).</summary>
    public static long[] BlockPermutation(int blocks, int block, Random rng)
    {
        var perm = new long[blocks * block];
        for (int b = 0; b < blocks; b++)
        {
            var local = Enumerable.Range(0, block).OrderBy(_ => rng.Next()).ToArray();
            for (int k = 0; k < block; k++) perm[b * block + k] = b * block + local[k];
        }
        return perm;
    }

    /// <summary>Edge index for permuted nodes: edge (j → i) becomes (inv[j] → inv[i]).</summary>
    public static Tensor PermuteEdges(Tensor edgeIndex, long[] perm)
    {
        var inv = new long[perm.Length];
        for (int k = 0; k < perm.Length; k++) inv[perm[k]] = k;
        return torch.tensor(inv).index_select(0, edgeIndex.flatten()).view(2, -1);
    }

    public static double MaxAbs(Tensor t) => t.abs().max().to_type(ScalarType.Float64).item<double>();
}

public class EgnnLayerTests
{
    private static Tensor FullyConnected(int systems, int n)
    {
        var src = new List<long>();
        var dst = new List<long>();
        for (int s = 0; s < systems; s++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (i != j) { src.Add(s * n + j); dst.Add(s * n + i); }
        return torch.stack(new[] { torch.tensor(src.ToArray()), torch.tensor(dst.ToArray()) });
    }

    /// <summary>Gives every parameter O(1) random values, so that the coordinate update is large enough to expose errors.</summary>
    private static void Randomize(nn.Module module, Generator gen)
    {
        using var _ = torch.no_grad();
        foreach (var p in module.parameters())
            p.copy_(torch.randn(p.shape, dtype: p.dtype, generator: gen) * 0.4);
    }

    public static TheoryData<string> Variants() => new() { "paper", "attention", "tanh-normalized", "sum-noresidual", "no-coordinates" };

    private static EgnnLayerOptions Options(string variant) => variant switch
    {
        "paper" => new EgnnLayerOptions(8, 16, EdgeChannels: 2, UseVelocity: true),
        "attention" => new EgnnLayerOptions(8, 16, EdgeChannels: 2, UseVelocity: true, Attention: true),
        "tanh-normalized" => new EgnnLayerOptions(8, 16, EdgeChannels: 2, Tanh: true, CoordinateRange: 3, NormalizeDifference: true),
        "sum-noresidual" => new EgnnLayerOptions(8, 16, OutChannels: 5, EdgeChannels: 0, Residual: false, CoordinateAggregation: EquiSharp.Aggregation.Aggregation.Sum, CoordinateWeight: 0.7),
        "no-coordinates" => new EgnnLayerOptions(8, 16, EdgeChannels: 2, UpdateCoordinates: false),
        _ => throw new ArgumentException(variant),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void IsEquivariantToRotationsReflectionsTranslationsAndPermutations(string variant)
    {
        var gen = new Generator(17);
        var opt = Options(variant);
        var layer = new EgnnLayer(opt);
        layer.to(ScalarType.Float64);
        Randomize(layer, gen);
        int systems = 3, n = 5;
        long nodes = systems * n;
        var ei = FullyConnected(systems, n);
        var h = torch.randn(new long[] { nodes, 8 }, dtype: ScalarType.Float64, generator: gen);
        var x = torch.randn(new long[] { nodes, 3 }, dtype: ScalarType.Float64, generator: gen);
        var v = torch.randn(new long[] { nodes, 3 }, dtype: ScalarType.Float64, generator: gen);
        var a = opt.EdgeChannels > 0 ? torch.randn(new long[] { ei.shape[1], opt.EdgeChannels }, dtype: ScalarType.Float64, generator: gen) : null;
        var edges = EgnnEdges.Create(ei, nodes, ScalarType.Float64, a);
        var (h1, x1) = layer.forward(h, x, edges, v);
        Assert.Equal(new long[] { nodes, opt.Out }, h1.shape);
        if (opt.UpdateCoordinates) Assert.True(E3.MaxAbs(x1 - x) > 0.05, "the coordinate update is too small for a meaningful check");
        else Assert.True(E3.MaxAbs(x1 - x) == 0);

        foreach (bool reflect in new[] { false, true })
        {
            var q = E3.RandomOrthogonal(gen, reflect);
            var shift = torch.randn(new long[] { 1, 3 }, dtype: ScalarType.Float64, generator: gen) * 3;
            var (h2, x2) = layer.forward(h, x.matmul(q) + shift, edges, v.matmul(q));
            Assert.True(E3.MaxAbs(h2 - h1) < 1e-10, $"h not invariant ({variant}, reflect {reflect}): {E3.MaxAbs(h2 - h1)}");
            Assert.True(E3.MaxAbs(x2 - (x1.matmul(q) + shift)) < 1e-10, $"x not equivariant ({variant}, reflect {reflect}): {E3.MaxAbs(x2 - (x1.matmul(q) + shift))}");
        }

        var perm = E3.BlockPermutation(systems, n, new Random(3));
        var p = torch.tensor(perm);
        var pei = E3.PermuteEdges(ei, perm);
        var (h3, x3) = layer.forward(h.index_select(0, p), x.index_select(0, p), EgnnEdges.Create(pei, nodes, ScalarType.Float64, a), v.index_select(0, p));
        Assert.True(E3.MaxAbs(h3 - h1.index_select(0, p)) < 1e-10);
        Assert.True(E3.MaxAbs(x3 - x1.index_select(0, p)) < 1e-10);
    }

    [Fact]
    public void MatchesTheEquationsEdgeByEdge()
    {
        var gen = new Generator(5);
        var layer = new EgnnLayer(new EgnnLayerOptions(3, 4, EdgeChannels: 1, UseVelocity: true, CoordinateClamp: 0.3));
        layer.to(ScalarType.Float64);
        Randomize(layer, gen);
        var ps = layer.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        Tensor Lin(string name, Tensor input) => ps.TryGetValue(name + ".bias", out var b)
            ? input.matmul(ps[name + ".weight"].t()) + b : input.matmul(ps[name + ".weight"].t());
        Tensor Silu(Tensor t) => t * torch.sigmoid(t);

        // A 4-node graph that is not fully connected: node 3 receives from 0 only, node 2 from nobody.
        var ei = torch.tensor(new long[,] { { 1, 2, 3, 0, 0, 2 }, { 0, 0, 0, 1, 3, 1 } });
        var h = torch.randn(new long[] { 4, 3 }, dtype: ScalarType.Float64, generator: gen);
        var x = torch.randn(new long[] { 4, 3 }, dtype: ScalarType.Float64, generator: gen) * 2;
        var v = torch.randn(new long[] { 4, 3 }, dtype: ScalarType.Float64, generator: gen);
        var a = torch.randn(new long[] { 6, 1 }, dtype: ScalarType.Float64, generator: gen);
        var (hOut, xOut) = layer.forward(h, x, EgnnEdges.Create(ei, 4, ScalarType.Float64, a), v);

        bool clamped = false;
        for (int i = 0; i < 4; i++)
        {
            var mSum = torch.zeros(4, dtype: ScalarType.Float64);
            var trans = torch.zeros(3, dtype: ScalarType.Float64);
            int count = 0;
            for (int e = 0; e < 6; e++)
            {
                if (ei[1, e].item<long>() != i) continue;
                int j = (int)ei[0, e].item<long>();
                var diff = x[i] - x[j];
                var input = torch.cat(new[] { h[i], h[j], diff.square().sum().view(1), a[e] });
                var m = Silu(Lin("edge2", Silu(Lin("edge1", input))));
                mSum += m;
                var term = diff * Lin("coord2", Silu(Lin("coord1", m)));
                clamped |= E3.MaxAbs(term) > 0.3;
                trans += term.clamp(-0.3, 0.3);
                count++;
            }
            var xi = x[i] + trans / Math.Max(count, 1) + Lin("vel2", Silu(Lin("vel1", h[i]))) * v[i];
            var hi = h[i] + Lin("node2", Silu(Lin("node1", torch.cat(new[] { h[i], mSum }))));
            Assert.True(E3.MaxAbs(xi - xOut[i]) < 1e-12, $"node {i}: x differs by {E3.MaxAbs(xi - xOut[i])}");
            Assert.True(E3.MaxAbs(hi - hOut[i]) < 1e-12, $"node {i}: h differs by {E3.MaxAbs(hi - hOut[i])}");
        }
        Assert.True(clamped, "the clamp was never active; choose a smaller CoordinateClamp");
    }

    [Fact]
    public void CoordinateHeadStartsNearZeroAndInputsAreChecked()
    {
        var layer = new EgnnLayer(new EgnnLayerOptions(4, 64, EdgeChannels: 1));
        var w = layer.named_parameters().Single(kv => kv.name == "coord2.weight").parameter;
        double bound = 0.001 * Math.Sqrt(6.0 / (64 + 1));
        Assert.True(E3.MaxAbs(w) <= bound + 1e-9);
        Assert.DoesNotContain(layer.named_parameters(), kv => kv.name == "coord2.bias");

        var ei = FullyConnected(1, 3);
        var edges = EgnnEdges.Create(ei, 3, ScalarType.Float32, torch.ones(6, 1));
        Assert.Contains("expected [N = 3, 4]", Assert.Throws<ArgumentException>(() => layer.forward(torch.ones(3, 5), torch.ones(3, 3), edges)).Message);
        Assert.Contains("expected edge attributes [E, 1]", Assert.Throws<ArgumentException>(() =>
            layer.forward(torch.ones(3, 4), torch.ones(3, 3), EgnnEdges.Create(ei, 3, ScalarType.Float32))).Message);
        var velLayer = new EgnnLayer(new EgnnLayerOptions(4, 8, UseVelocity: true));
        Assert.Contains("no velocity", Assert.Throws<ArgumentException>(() => velLayer.forward(torch.ones(3, 4), torch.ones(3, 3), edges)).Message);
        Assert.Throws<GraphValidationException>(() => EgnnEdges.Create(ei, 2, ScalarType.Float32));
        Assert.Throws<ArgumentException>(() => new EgnnLayer(new EgnnLayerOptions(4, 8, OutChannels: 5)));
        Assert.Throws<ArgumentException>(() => new EgnnLayer(new EgnnLayerOptions(4, 8, CoordinateAggregation: EquiSharp.Aggregation.Aggregation.Max)));
    }
}
