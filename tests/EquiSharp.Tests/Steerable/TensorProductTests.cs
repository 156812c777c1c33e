using EquiSharp.Steerable;
using EquiSharp.Symmetry;
using EquiSharp.Tests.TestUtilities;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class TensorProductTests
{
    private static readonly Irreps In1 = "2x0e+2x1o+2x2e+2x1e";
    private static readonly Irreps In2 = "2x0e+2x1o+2x2o";
    private static readonly Irreps Out = "2x0e+2x0o+2x1o+2x1e+2x2e+2x2o+2x3o";

    internal static Tensor Randn(Generator gen, params long[] shape) => torch.randn(shape, dtype: ScalarType.Float64, generator: gen);

    private static TensorProductInstruction[] AllPaths(ConnectionMode mode, bool weighted = true) =>
        FullyConnectedTensorProduct.Paths(In1, In2, Out).Select(i => i with { Mode = mode, HasWeight = weighted }).ToArray();

    /// <summary>max |f(D1 x1, D2 x2) − D_out f(x1, x2)| over random O(3) elements (half of them reflections).</summary>
    internal static double EquivarianceError(Func<Tensor, Tensor, Tensor> f, Irreps a, Irreps b, Irreps c, Generator gen, int samples = 4)
    {
        var x1 = Randn(gen, 5, a.Dim);
        var x2 = Randn(gen, 5, b.Dim);
        var y = f(x1, x2);
        double worst = 0;
        var rs = torch.cat(new[] { Rotations.RandomSO3(samples / 2, gen), Rotations.RandomReflection(3, samples - samples / 2, gen) }, 0);
        for (int k = 0; k < samples; k++)
        {
            var r = rs[k];
            var lhs = f(x1.matmul(a.D(r).t()), x2.matmul(b.D(r).t()));
            var rhs = y.matmul(c.D(r).t());
            worst = Math.Max(worst, (lhs - rhs).abs().max().item<double>());
        }
        Assert.True(y.abs().max().item<double>() > 1e-3, "the output is trivially zero");
        return worst;
    }

    [Theory]
    [InlineData(ConnectionMode.Uvw, true)]
    [InlineData(ConnectionMode.Uvu, true)]
    [InlineData(ConnectionMode.Uvv, true)]
    [InlineData(ConnectionMode.Uuw, true)]
    [InlineData(ConnectionMode.Uuu, true)]
    [InlineData(ConnectionMode.Uvu, false)]
    [InlineData(ConnectionMode.Uvv, false)]
    [InlineData(ConnectionMode.Uuu, false)]
    public void EveryMode_IsEquivariant_WithInternalAndPerRowWeights(ConnectionMode mode, bool weighted)
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(11);
        var gen = new Generator(12);
        var tp = new TensorProduct(In1, In2, Out, AllPaths(mode, weighted)).to(ScalarType.Float64);
        Assert.True(EquivarianceError((a, b) => tp.forward(a, b), In1, In2, Out, gen) < 1e-10);
        if (!weighted) return;
        var ext = new TensorProduct(In1, In2, Out, AllPaths(mode), internalWeights: false);
        var w = Randn(gen, 5, ext.WeightNumel);
        Assert.True(EquivarianceError((a, b) => ext.forward(a, b, w), In1, In2, Out, gen) < 1e-10);
    }

    [Fact]
    public void RandomIrreps_FullyConnected_IsEquivariant()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(21);
        var rnd = new Random(21);
        string RandomIrreps() => string.Join("+", Enumerable.Range(0, rnd.Next(1, 4)).Select(_ => $"{rnd.Next(1, 3)}x{rnd.Next(0, 4)}{(rnd.Next(2) == 0 ? 'e' : 'o')}"));
        for (int trial = 0; trial < 4; trial++)
        {
            Irreps a = RandomIrreps(), b = RandomIrreps();
            Irreps c = a.TensorProduct(b);
            var tp = new FullyConnectedTensorProduct(a, b, c).to(ScalarType.Float64);
            Assert.True(EquivarianceError((x, y) => tp.forward(x, y), a, b, c, gen, 2) < 1e-10, $"{a} x {b} -> {c}");
        }
    }

    [Theory]
    [InlineData(ConnectionMode.Uvw, PathNormalization.Element)]
    [InlineData(ConnectionMode.Uvw, PathNormalization.Path)]
    [InlineData(ConnectionMode.Uvu, PathNormalization.Element)]
    [InlineData(ConnectionMode.Uuu, PathNormalization.Element)]
    public void Outputs_HaveUnitSecondMoment(ConnectionMode mode, PathNormalization pathNormalization)
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(31);
        Irreps a = "4x0e+4x1o+4x2e", b = "4x0e+4x1o+4x2e", c = "4x0e+4x1o+4x2e+4x1e";
        var paths = FullyConnectedTensorProduct.Paths(a, b, c).Select(i => i with { Mode = mode }).ToArray();
        var tp = new TensorProduct(a, b, c, paths, pathNormalization: pathNormalization, internalWeights: false);
        const long rows = 4000;
        var y = tp.forward(Randn(gen, rows, a.Dim), Randn(gen, rows, b.Dim), Randn(gen, rows, tp.WeightNumel));
        for (int o = 0; o < c.Count; o++)
        {
            var (s, e) = c.Slice(o);
            double m2 = y[.., TensorIndex.Slice(s, e)].pow(2).mean().item<double>();
            Assert.True(Math.Abs(m2 - 1) < 0.1, $"{mode} {pathNormalization}: block {c[o]} has second moment {m2}");
        }
    }

    [Fact]
    public void KnownValues_DotAndCross()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(41);
        var x = Randn(gen, 3, 3);
        var y = Randn(gen, 3, 3);
        var dot = new TensorProduct("1o", "1o", "0e", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uuu, false) });
        Assert.True(torch.allclose(dot.forward(x, y).squeeze(-1), (x * y).sum(-1) / Math.Sqrt(3), 1e-12, 1e-12));
        var cross = new TensorProduct("1o", "1o", "1e", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uuu, false) });
        var expected = torch.linalg.cross(x, y) / Math.Sqrt(2);
        var got = cross.forward(x, y);
        Assert.True(torch.allclose(got, expected, 1e-12, 1e-12) || torch.allclose(got, -expected, 1e-12, 1e-12));
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences_ForInputsAndWeights()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(51);
        Irreps a = "2x0e+1x1o+1x2e", b = "0e+1o", c = "2x0e+2x1o+1x2e+1x1e";
        var tp = new FullyConnectedTensorProduct(a, b, c, internalWeights: false);
        var x1 = Randn(gen, 2, a.Dim);
        var x2 = Randn(gen, 2, b.Dim);
        var w = Randn(gen, 2, tp.WeightNumel);
        Assert.True(FiniteDifferences.MaxGradientError(v => tp.forward(v, x2, w), x1) < 1e-7);
        Assert.True(FiniteDifferences.MaxGradientError(v => tp.forward(x1, v, w), x2) < 1e-7);
        Assert.True(FiniteDifferences.MaxGradientError(v => tp.forward(x1, x2, v), w) < 1e-7);
        var uvu = new TensorProduct(a, b, "2x0e+1x1o+1x0e", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uvu), new TensorProductInstruction(1, 1, 2, ConnectionMode.Uvu), new TensorProductInstruction(1, 0, 1, ConnectionMode.Uvu) }, internalWeights: false);
        var wu = Randn(gen, 2, uvu.WeightNumel);
        Assert.True(FiniteDifferences.MaxGradientError(v => uvu.forward(v, x2, wu), x1) < 1e-7);
        Assert.True(FiniteDifferences.MaxGradientError(v => uvu.forward(x1, x2, v), wu) < 1e-7);
    }

    [Fact]
    public void Shapes_LeadingDimensions_AndErrors()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(61);
        var tp = new FullyConnectedTensorProduct("2x0e+1o", "0e+1o", "3x0e+2x1o").to(ScalarType.Float64);
        Assert.Equal(2 * 1 * 3 + 2 * 1 * 2 + 1 * 1 * 2 + 1 * 1 * 3, tp.WeightNumel);
        // e3nn's coefficients: component / element, sqrt((2l_out + 1) / Σ fan-in of the paths into the output).
        var fc = new FullyConnectedTensorProduct("16x0e+16x1o+16x2e", "0e+1o+2e", "16x0e+16x1o+16x2e");
        Assert.Equal(Math.Sqrt(1.0 / 48), fc.PathCoefficient(0), 12);       // 0e x 0e -> 0e; three 16-fan-in paths into 0e
        Assert.Equal(Math.Sqrt(3.0 / 64), fc.PathCoefficient(1), 12);       // 0e x 1o -> 1o; four paths into 1o
        Assert.Equal(11, fc.Instructions.Count);
        var y = tp.forward(Randn(gen, 2, 3, 5), Randn(gen, 2, 3, 4));
        Assert.Equal(new long[] { 2, 3, 9 }, y.shape);
        // Per-row weights equal to the internal ones reproduce the internal result.
        var x1 = Randn(gen, 4, 5); var x2 = Randn(gen, 4, 4);
        var w = tp.Weight!.detach().expand(4, tp.WeightNumel);
        Assert.True(torch.allclose(tp.forward(x1, x2), tp.forward(x1, x2, w), 1e-12, 1e-12));
        Assert.Throws<ArgumentException>(() => tp.forward(Randn(gen, 4, 6), x2));
        Assert.Throws<ArgumentException>(() => tp.forward(x1, x2, Randn(gen, 4, 3)));
        var e = Assert.Throws<ArgumentException>(() => new TensorProduct("1o", "1o", "1o", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uvw) }));
        Assert.Contains("does not contain 1o", e.Message);
        Assert.Throws<ArgumentException>(() => new TensorProduct("2x0e", "3x0e", "2x0e", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uuu) }));
    }

    [Fact]
    public void MixedModesIntoOneOutput_EqualTheSumOfSinglePaths()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(81);
        Irreps a = "2x1o+2x0e", b = "2x1o+1x2e", c = "2x1o+2x0e";
        var paths = new[]
        {
            new TensorProductInstruction(1, 0, 0, ConnectionMode.Uvu),               // 2x0e x 2x1o -> 2x1o
            new TensorProductInstruction(0, 1, 0, ConnectionMode.Uvw),               // 2x1o x 1x2e -> 2x1o
            new TensorProductInstruction(1, 0, 0, ConnectionMode.Uuu, false),        // 2x0e x 2x1o -> 2x1o, channel-wise
            new TensorProductInstruction(0, 1, 0, ConnectionMode.Uvu, true, 2.0),    // 2x1o x 1x2e -> 2x1o, path weight 2
            new TensorProductInstruction(1, 0, 0, ConnectionMode.Uvv, false),        // 2x0e x 2x1o -> 2x1o, summed over u
            new TensorProductInstruction(0, 0, 1, ConnectionMode.Uuw),               // 2x1o x 2x1o -> 2x0e
        };
        var x1 = Randn(gen, 4, a.Dim);
        var x2 = Randn(gen, 4, b.Dim);
        // Both orders: the first path into an output block decides the accumulator's layout.
        foreach (var order in new[] { paths, new[] { paths[1], paths[0], paths[2], paths[3], paths[4], paths[5] } })
        foreach (bool perRow in new[] { false, true })
        {
            var all = new TensorProduct(a, b, c, order, pathNormalization: PathNormalization.None, internalWeights: false);
            var w = perRow ? Randn(gen, 4, all.WeightNumel) : Randn(gen, all.WeightNumel);
            var sum = torch.zeros(4, c.Dim, dtype: ScalarType.Float64);
            long offset = 0;
            foreach (var path in order)
            {
                var single = new TensorProduct(a, b, c, new[] { path }, pathNormalization: PathNormalization.None, internalWeights: false);
                var ws = perRow ? w[.., TensorIndex.Slice(offset, offset + single.WeightNumel)] : w[TensorIndex.Slice(offset, offset + single.WeightNumel)];
                sum = sum + (single.WeightNumel == 0 ? single.forward(x1, x2, null) : single.forward(x1, x2, ws));
                offset += single.WeightNumel;
            }
            Assert.True(torch.allclose(all.forward(x1, x2, w), sum, 1e-12, 1e-12), $"perRow = {perRow}");
        }
        var mixed = new TensorProduct(a, b, c, paths, internalWeights: false);
        var shared = Randn(gen, mixed.WeightNumel);
        Assert.True(EquivarianceError((p, q) => mixed.forward(p, q, shared), a, b, c, gen) < 1e-10);
    }
    [Theory]
    [InlineData(ConnectionMode.Uvu, false)]
    [InlineData(ConnectionMode.Uvu, true)]
    [InlineData(ConnectionMode.Uvw, false)]
    [InlineData(ConnectionMode.Uvw, true)]
    public void SingleChannelInput2_MatchesTheDenseEinsum(ConnectionMode mode, bool perRow)
    {
        // Input 2 of multiplicity 1 (edge spherical harmonics) takes the channels-last route: l1 = 0,
        // l2 = 0 and general paths each have their own form there; all must equal the dense formula.
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(91);
        Irreps a = "3x0e+3x1o+2x2e", b = "0e+1o+2e", c = "3x0e+3x1o+3x2e";
        var paths = FullyConnectedTensorProduct.Paths(a, b, c)
            .Where(i => mode == ConnectionMode.Uvw || a[i.In1].Mul == c[i.Out].Mul)
            .Select(i => i with { Mode = mode }).ToArray();
        var tp = new TensorProduct(a, b, c, paths, internalWeights: false);
        const long n = 5;
        var x1 = Randn(gen, n, a.Dim);
        var x2 = Randn(gen, n, b.Dim);
        var w = perRow ? Randn(gen, n, tp.WeightNumel) : Randn(gen, tp.WeightNumel);
        var blocks = new Tensor[c.Count];
        for (int o = 0; o < c.Count; o++) blocks[o] = torch.zeros(n, c[o].Mul, c[o].Irrep.Dim, dtype: ScalarType.Float64);
        long offset = 0, o1 = 0;
        var starts1 = a.Select(m => { long s0 = o1; o1 += m.Dim; return s0; }).ToArray();
        long o2 = 0;
        var starts2 = b.Select(m => { long s0 = o2; o2 += m.Dim; return s0; }).ToArray();
        for (int p = 0; p < paths.Length; p++)
        {
            var ins = paths[p];
            var (m1, m2, mo) = (a[ins.In1], b[ins.In2], c[ins.Out]);
            var u1 = x1[.., TensorIndex.Slice(starts1[ins.In1], starts1[ins.In1] + m1.Dim)].reshape(n, m1.Mul, m1.Irrep.Dim);
            var v2 = x2[.., TensorIndex.Slice(starts2[ins.In2], starts2[ins.In2] + m2.Dim)];
            var cg = Wigner3j.Get(m1.Irrep.L, m2.Irrep.L, mo.Irrep.L) * tp.PathCoefficient(p);
            long numel = ins.WeightShape(m1.Mul, m2.Mul, mo.Mul).Aggregate(1L, (x, y) => x * y);
            var wp = perRow ? w[.., TensorIndex.Slice(offset, offset + numel)] : w[TensorIndex.Slice(offset, offset + numel)].expand(n, numel);
            offset += numel;
            var t = torch.einsum("zui,zj,ijk->zuk", u1, v2, cg);
            blocks[ins.Out] = blocks[ins.Out] + (mode == ConnectionMode.Uvu
                ? t * wp.reshape(n, m1.Mul, 1)
                : torch.einsum("zuk,zuw->zwk", t, wp.reshape(n, m1.Mul, mo.Mul)));
        }
        var expected = torch.cat(blocks.Select(t => t.reshape(n, -1)).ToArray(), 1);
        Assert.True(torch.allclose(tp.forward(x1, x2, w), expected, 1e-12, 1e-12));
    }
}
