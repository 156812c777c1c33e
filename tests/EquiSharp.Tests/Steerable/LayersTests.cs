using EquiSharp.Steerable;
using EquiSharp.Symmetry;
using EquiSharp.Tests.TestUtilities;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class LayersTests
{
    private static Tensor Randn(Generator gen, params long[] shape) => TensorProductTests.Randn(gen, shape);

    /// <summary>max |f(D_in x) − D_out f(x)| over random rotations and reflections.</summary>
    private static double Error(Func<Tensor, Tensor> f, Irreps irrepsIn, Irreps irrepsOut, Generator gen)
    {
        var x = Randn(gen, 6, irrepsIn.Dim);
        var y = f(x);
        double worst = 0;
        foreach (var r in new[] { Rotations.RandomSO3(gen), Rotations.RandomReflection(3, gen), Rotations.RandomO3(gen) })
            worst = Math.Max(worst, (f(x.matmul(irrepsIn.D(r).t())) - y.matmul(irrepsOut.D(r).t())).abs().max().item<double>());
        return worst;
    }

    [Fact]
    public void Linear_IsEquivariant_BiasOnlyOnScalars_UnitVariance()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(1);
        var gen = new Generator(1);
        Irreps a = "3x0e+2x1o+1x1o+2x2e+1x0o", b = "4x0e+3x1o+1x2o+2x1e";
        var lin = new EquivariantLinear(a, b, biases: true).to(ScalarType.Float64);
        Assert.Equal(4 * 3 + 3 * 3, lin.WeightNumel); // 0e: 3·4; 1o: (2 + 1)·3; no 2o or 1e inputs
        Assert.Equal(4, lin.Bias!.shape[0]);
        using (torch.no_grad()) lin.Bias!.fill_(0.5);
        Assert.True(Error(lin.forward, a, b, gen) < 1e-12);
        var y = lin.forward(torch.zeros(2, a.Dim, dtype: ScalarType.Float64));
        Assert.Equal(0.5, y[0, 0].item<double>());
        Assert.Equal(0.0, y[.., 4..].abs().max().item<double>());
        // Unit-variance inputs give unit-variance outputs (1/sqrt(fan-in) normalisation).
        var big = new EquivariantLinear("64x0e+32x1o", "64x0e+32x1o").to(ScalarType.Float64);
        var m2 = big.forward(Randn(gen, 2000, 160)).pow(2).mean().item<double>();
        Assert.InRange(m2, 0.85, 1.15);
        Assert.True(FiniteDifferences.MaxGradientError(lin.forward, Randn(gen, 2, a.Dim)) < 1e-7);
    }

    [Fact]
    public void Gate_IsEquivariant_AndFollowsE3nnParities()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(2);
        Activation relu = new(x => torch.nn.functional.relu(x));
        Activation tanh = new(x => x.tanh());
        Activation sigmoid = new(x => x.sigmoid());
        Activation abs = new(x => x.abs());
        var gate = new Gate("2x0e+1x0o", new[] { relu, tanh }, "2x0e+1x0o", new[] { sigmoid, abs }, "1x1o+1x2e+1x1o");
        Assert.Equal("2x0e+1x0o+2x0e+1x0o+1x1o+1x2e+1x1o", gate.IrrepsIn.ToString());
        Assert.Equal("2x0e+1x0o+1x1o+1x2e+1x1o", gate.IrrepsOut.ToString());
        Assert.True(Error(gate.forward, gate.IrrepsIn, gate.IrrepsOut, gen) < 1e-12);
        // An odd gate with an odd activation flips the gated parity.
        var odd = new Gate(Irreps.Empty, Array.Empty<Activation>(), "1x0o", new[] { tanh }, "1x1o");
        Assert.Equal("1x1e", odd.IrrepsOut.ToString());
        Assert.True(Error(odd.forward, odd.IrrepsIn, odd.IrrepsOut, gen) < 1e-12);
        Assert.Throws<ArgumentException>(() => new Gate("1x0o", new[] { relu }, Irreps.Empty, Array.Empty<Activation>(), Irreps.Empty));
        Assert.Throws<ArgumentException>(() => new Gate("1x0e", new[] { relu }, "1x0e", new[] { sigmoid }, "2x1o"));
        // Normalised activations have unit second moment on standard normal inputs.
        Assert.InRange(relu.Apply(Randn(gen, 20000)).pow(2).mean().item<double>(), 0.95, 1.05);
        Assert.True(FiniteDifferences.MaxGradientError(gate.forward, Randn(gen, 2, gate.IrrepsIn.Dim)) < 1e-6);
    }

    [Fact]
    public void Norm_IsInvariant_AndSafeAtZero()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(3);
        Irreps a = "2x0e+2x1o+1x2e";
        var norm = new IrrepsNorm(a);
        Assert.Equal("5x0e", norm.IrrepsOut.ToString());
        Assert.True(Error(norm.forward, a, norm.IrrepsOut, gen) < 1e-12);
        var x = Randn(gen, 3, a.Dim);
        Assert.True(torch.allclose(norm.forward(x)[.., 2], x[.., 2..5].pow(2).sum(1).sqrt(), 1e-12, 1e-12));
        Assert.True(torch.allclose(new IrrepsNorm(a, squared: true).forward(x), norm.forward(x).pow(2), 1e-12, 1e-12));
        var z = torch.zeros(1, a.Dim, dtype: ScalarType.Float64).requires_grad_(true);
        norm.forward(z).sum().backward();
        Assert.True(torch.isfinite(z.grad!).all().item<bool>());
    }

    [Fact]
    public void LayerNorm_IsEquivariant_AndNormalises()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(4);
        Irreps a = "4x0e+3x1o+2x2e+1x0o";
        var ln = new EquivariantLayerNorm(a).to(ScalarType.Float64);
        Assert.True(Error(ln.forward, a, a, gen) < 1e-12);
        var y = ln.forward(Randn(gen, 5, a.Dim) * 7 + 3);
        var (s, e) = a.Slice(1);
        var rms = y[.., TensorIndex.Slice(s, e)].pow(2).mean(new long[] { 1 });
        Assert.True(torch.allclose(rms, torch.ones_like(rms), 1e-4, 1e-4));
        Assert.True(y[.., ..4].mean(new long[] { 1 }).abs().max().item<double>() < 1e-12);
        Assert.True(FiniteDifferences.MaxGradientError(ln.forward, Randn(gen, 2, a.Dim)) < 1e-6);
    }

    [Fact]
    public void RadialBases_AndCutoffs_HaveTheDocumentedShapesAndLimits()
    {
        using var scope = torch.NewDisposeScope();
        var r = torch.tensor(new[] { 0.0, 0.5, 1.0, 2.0, 2.5 }, dtype: ScalarType.Float64);
        var gauss = new GaussianBasis(5, 2.0).forward(r);
        Assert.Equal(new long[] { 5, 5 }, gauss.shape);
        Assert.Equal(1.0, gauss[1, 1].item<double>(), 12); // r = 0.5 sits on the second centre
        var bessel = new BesselBasis(4, 2.0);
        var b = bessel.forward(r);
        Assert.Equal(Math.Sqrt(2 / 2.0) * 3 * Math.PI / 2.0, b[0, 2].item<double>(), 12); // the r → 0 limit
        Assert.Equal(Math.Sqrt(2 / 2.0) * Math.Sin(Math.PI * 0.5 / 2.0) / 0.5, b[1, 0].item<double>(), 12);
        Assert.True(FiniteDifferences.MaxGradientError(bessel.forward, torch.tensor(new[] { 0.0, 0.3 }, dtype: ScalarType.Float64)) < 1e-6);
        foreach (var envelope in new[] { CutoffEnvelope.Cosine(2.0), CutoffEnvelope.Polynomial(2.0) })
        {
            var f = envelope.forward(r);
            Assert.Equal(1.0, f[0].item<double>(), 12);
            Assert.Equal(0.0, f[3].item<double>(), 12);
            Assert.Equal(0.0, f[4].item<double>(), 12);
            // Smooth at the cutoff: the derivative vanishes just inside it.
            var near = torch.tensor(new[] { 2.0 - 1e-4 }, dtype: ScalarType.Float64).requires_grad_(true);
            envelope.forward(near).sum().backward();
            Assert.True(Math.Abs(near.grad!.item<double>()) < 1e-3);
        }
    }
}
