using EquiSharp.Runtime;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

/// <summary>The hand-written tensor-product kernel against the composite of tensor operations.</summary>
public class TensorProductKernelTests
{
    // Multiplicities that are not multiples of the SIMD width, every l up to 2, paths of both modes
    // into the same output block, and an unweighted uvu path.
    private static readonly Irreps In1 = "5x0e+13x1o+3x2e+2x1e";
    private static readonly Irreps In2 = "0e+1o+2e";
    private static readonly Irreps Out = "9x0e+13x1o+5x1e+3x2e+2x2o+5x1o"; // every uvu branch: degree-0 input (5x0e -> 5x1o), diagonal, l1 = 1, l1 = 2

    private static TensorProductInstruction[] MixedPaths()
    {
        var paths = FullyConnectedTensorProduct.Paths(In1, In2, Out).ToArray();
        for (int p = 0; p < paths.Length; p++)
        {
            // uvu where the multiplicities allow, uvw elsewhere; one uvu path without weights.
            if (In1[paths[p].In1].Mul == Out[paths[p].Out].Mul)
                paths[p] = paths[p] with { Mode = ConnectionMode.Uvu, HasWeight = p % 3 != 0 };
        }
        Assert.Contains(paths, p => p.Mode == ConnectionMode.Uvu && !p.HasWeight);
        Assert.Contains(paths, p => p.Mode == ConnectionMode.Uvw);
        return paths;
    }

    private static (Tensor Out, Tensor[] Grads) Run(TensorProduct tp, Tensor x1, Tensor x2, Tensor? w, Tensor probe)
    {
        var a = x1.detach().clone().requires_grad_(true);
        var b = x2.detach().clone().requires_grad_(true);
        var c = w?.detach().clone().requires_grad_(true);
        var y = tp.forward(a, b, c);
        (y * probe).sum().backward();
        var grads = new List<Tensor> { a.grad!.clone(), b.grad!.clone() };
        if (c is not null) grads.Add(c.grad!.clone());
        else if (tp.Weight is not null) { grads.Add(tp.Weight.grad!.clone()); tp.Weight.grad!.zero_(); }
        return (y.detach(), grads.ToArray());
    }

    [Theory]
    [InlineData(ScalarType.Float64, "internal", 1, 1e-11)]
    [InlineData(ScalarType.Float64, "shared", 2, 1e-11)]
    [InlineData(ScalarType.Float64, "perRow", 2, 1e-11)]
    [InlineData(ScalarType.Float32, "perRow", 1, 2e-4)]
    [InlineData(ScalarType.Float32, "internal", 2, 2e-4)]
    public void Kernel_MatchesTheComposite_ValuesAndGradients(ScalarType dtype, string weights, int threads, double tolerance)
    {
        using var scope = torch.NewDisposeScope();
        int before = TorchRuntime.Threads;
        try
        {
            TorchRuntime.SetThreads(threads);
            torch.random.manual_seed(3);
            var tp = new TensorProduct(In1, In2, Out, MixedPaths(), internalWeights: weights == "internal").to(dtype);
            Assert.True(tp.HasKernel);
            var gen = new Generator(4);
            long n = 1500; // three chunks' worth of rows, so two threads split the work
            var x1 = torch.randn(new[] { n, (long)In1.Dim }, dtype: dtype, generator: gen);
            var x2 = torch.randn(new[] { n, (long)In2.Dim }, dtype: dtype, generator: gen);
            Tensor? w = weights switch
            {
                "shared" => torch.randn(new[] { tp.WeightNumel }, dtype: dtype, generator: gen),
                "perRow" => torch.randn(new[] { n, tp.WeightNumel }, dtype: dtype, generator: gen),
                _ => null,
            };
            var probe = torch.randn(new[] { n, (long)Out.Dim }, dtype: dtype, generator: gen);

            tp.UseKernel = false;
            var (expected, expectedGrads) = Run(tp, x1, x2, w, probe);
            tp.UseKernel = true;
            var (actual, actualGrads) = Run(tp, x1, x2, w, probe);

            double Scale(Tensor t) => Math.Max(1, t.abs().max().ToDouble());
            Assert.True((actual - expected).abs().max().ToDouble() / Scale(expected) < tolerance, "values");
            Assert.Equal(expectedGrads.Length, actualGrads.Length);
            for (int g = 0; g < expectedGrads.Length; g++)
                Assert.True((actualGrads[g] - expectedGrads[g]).abs().max().ToDouble() / Scale(expectedGrads[g]) < tolerance, $"gradient {g}");
        }
        finally { TorchRuntime.SetThreads(before); }
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void Kernel_PartialGradients_MatchTheComposite(bool gradX1, bool gradX2)
    {
        // Only the gradients that are asked for are computed (e.g. no gradient for edge attributes).
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(9);
        var tp = new TensorProduct(In1, In2, Out, MixedPaths(), internalWeights: false).to(ScalarType.Float64);
        var gen = new Generator(10);
        long n = 37;
        var x1 = torch.randn(new[] { n, (long)In1.Dim }, dtype: ScalarType.Float64, generator: gen);
        var x2 = torch.randn(new[] { n, (long)In2.Dim }, dtype: ScalarType.Float64, generator: gen);
        var w = torch.randn(new[] { n, tp.WeightNumel }, dtype: ScalarType.Float64, generator: gen);
        var probe = torch.randn(new[] { n, (long)Out.Dim }, dtype: ScalarType.Float64, generator: gen);
        Tensor[] Grads(bool kernel)
        {
            tp.UseKernel = kernel;
            var a = x1.detach().clone().requires_grad_(gradX1);
            var b = x2.detach().clone().requires_grad_(gradX2);
            var c = w.detach().clone().requires_grad_(true);
            (tp.forward(a, b, c) * probe).sum().backward();
            Assert.Equal(gradX1, a.grad is not null);
            Assert.Equal(gradX2, b.grad is not null);
            return new[] { a.grad, b.grad, c.grad }.Where(g => g is not null).Select(g => g!.clone()).ToArray();
        }
        var expected = Grads(false);
        var actual = Grads(true);
        for (int g = 0; g < expected.Length; g++)
            Assert.True((actual[g] - expected[g]).abs().max().ToDouble() < 1e-11, $"gradient {g}");
    }

    [Fact]
    public void Kernel_SecondDerivatives_MatchTheComposite()
    {
        // Forces are gradients of an energy: training on them differentiates the backward pass.
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(5);
        var tp = new TensorProduct(In1, In2, Out, MixedPaths(), internalWeights: false).to(ScalarType.Float64);
        var gen = new Generator(6);
        var x1 = torch.randn(new long[] { 7, In1.Dim }, dtype: ScalarType.Float64, generator: gen);
        var x2 = torch.randn(new long[] { 7, In2.Dim }, dtype: ScalarType.Float64, generator: gen);
        var w = torch.randn(new long[] { 7, tp.WeightNumel }, dtype: ScalarType.Float64, generator: gen);
        Tensor SecondOrder(bool kernel)
        {
            tp.UseKernel = kernel;
            var a = x1.detach().clone().requires_grad_(true);
            var b = x2.detach().clone().requires_grad_(true);
            var c = w.detach().clone().requires_grad_(true);
            var energy = tp.forward(a, b, c).square().sum();
            var force = torch.autograd.grad(new[] { energy }, new[] { b }, retain_graph: true, create_graph: true)[0];
            var loss = force.square().sum();
            var g = torch.autograd.grad(new[] { loss }, new[] { a, c });
            return torch.cat(new[] { g[0].flatten(), g[1].flatten() });
        }
        var expected = SecondOrder(false);
        var actual = SecondOrder(true);
        Assert.True(expected.abs().max().ToDouble() > 1e-3);
        Assert.True((actual - expected).abs().max().ToDouble() < 1e-9 * Math.Max(1, expected.abs().max().ToDouble()));
    }

    [Fact]
    public void Kernel_IsEquivariant()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(7);
        var tp = new TensorProduct(In1, In2, Out, MixedPaths()).to(ScalarType.Float64);
        Assert.True(tp.UseKernel && tp.HasKernel);
        Assert.True(TensorProductTests.EquivarianceError((a, b) => tp.forward(a, b), In1, In2, Out, new Generator(8)) < 1e-10);
    }

    [Fact]
    public void OutOfScopePaths_HaveNoKernel()
    {
        // Input 2 with multiplicity 2, or a channel-wise mode, stays on the composite.
        Assert.False(new TensorProduct("2x1o", "2x1o", "2x0e", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uvw) }).HasKernel);
        Assert.False(new TensorProduct("1x1o", "1o", "1x0e", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uuu) }).HasKernel);
        Assert.True(new TensorProduct("2x1o", "1o", "2x0e", new[] { new TensorProductInstruction(0, 0, 0, ConnectionMode.Uvu) }).HasKernel);
    }
}
