using EquiSharp.Runtime;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

/// <summary>The hand-written spherical-harmonics kernel against the composite of tensor operations.</summary>
public class SphericalHarmonicsKernelTests
{
    private static (Tensor Y, Tensor Grad) Run(bool kernel, int[] ls, Tensor x, Tensor probe, bool normalize, SphericalHarmonicsNormalization normalization)
    {
        bool before = SphericalHarmonics.UseKernel;
        try
        {
            SphericalHarmonics.UseKernel = kernel;
            var a = x.detach().clone().requires_grad_(true);
            var y = SphericalHarmonics.Compute(ls, a, normalize, normalization);
            (y * probe).sum().backward();
            return (y.detach(), a.grad!.clone());
        }
        finally { SphericalHarmonics.UseKernel = before; }
    }

    [Theory]
    [InlineData(ScalarType.Float64, "0,1,2,3,4,5,6,7,8", true, SphericalHarmonicsNormalization.Component, 1, 1e-10)]
    [InlineData(ScalarType.Float64, "3,1,1,0", false, SphericalHarmonicsNormalization.Integral, 2, 1e-10)]
    [InlineData(ScalarType.Float64, "2,5", true, SphericalHarmonicsNormalization.Norm, 2, 1e-10)]
    [InlineData(ScalarType.Float32, "0,1,2,3", true, SphericalHarmonicsNormalization.Component, 2, 1e-4)]
    [InlineData(ScalarType.Float32, "0,1,2,3,4,5,6", false, SphericalHarmonicsNormalization.Integral, 1, 1e-4)]
    public void Kernel_MatchesTheComposite_ValuesAndGradients(ScalarType dtype, string degrees, bool normalize,
        SphericalHarmonicsNormalization normalization, int threads, double tolerance)
    {
        using var scope = torch.NewDisposeScope();
        int before = TorchRuntime.Threads;
        try
        {
            TorchRuntime.SetThreads(threads);
            var ls = degrees.Split(',').Select(int.Parse).ToArray();
            var gen = new Generator(21);
            long n = 5003; // several blocks per thread and a partial last block
            var x = torch.randn(new[] { n, 3L }, dtype: dtype, generator: gen);
            if (!normalize) x = x * 0.7;
            x[17] = torch.zeros(3, dtype: dtype); // the zero vector: finite values and gradients
            int dim = ls.Sum(l => 2 * l + 1);
            var probe = torch.randn(new[] { n, (long)dim }, dtype: dtype, generator: gen);
            var (expected, expectedGrad) = Run(false, ls, x, probe, normalize, normalization);
            var (actual, actualGrad) = Run(true, ls, x, probe, normalize, normalization);
            double Scale(Tensor t) => Math.Max(1, t.abs().max().ToDouble());
            Assert.True(actualGrad.isfinite().all().ToBoolean());
            Assert.True((actual - expected).abs().max().ToDouble() / Scale(expected) < tolerance, "values");
            Assert.True((actualGrad - expectedGrad).abs().max().ToDouble() / Scale(expectedGrad) < tolerance, "gradients");
        }
        finally { TorchRuntime.SetThreads(before); }
    }

    [Fact]
    public void Kernel_SecondDerivatives_MatchTheComposite()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(22);
        var x = torch.randn(new long[] { 9, 3 }, dtype: ScalarType.Float64, generator: gen);
        var weights = torch.randn(new long[] { 16 }, dtype: ScalarType.Float64, generator: gen);
        Tensor Hessian(bool kernel)
        {
            bool before = SphericalHarmonics.UseKernel;
            try
            {
                SphericalHarmonics.UseKernel = kernel;
                var a = x.detach().clone().requires_grad_(true);
                var energy = (SphericalHarmonics.Compute(3, a) * weights).sum();
                var force = torch.autograd.grad(new[] { energy }, new[] { a }, retain_graph: true, create_graph: true)[0];
                return torch.autograd.grad(new[] { force.square().sum() }, new[] { a })[0];
            }
            finally { SphericalHarmonics.UseKernel = before; }
        }
        var expected = Hessian(false);
        Assert.True(expected.abs().max().ToDouble() > 1e-3);
        Assert.True((Hessian(true) - expected).abs().max().ToDouble() < 1e-9);
    }

    [Fact]
    public void Kernel_KeepsLeadingDimensions()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(new long[] { 2, 5, 3 }, dtype: ScalarType.Float64);
        var y = SphericalHarmonics.Compute(2, x);
        Assert.Equal(new long[] { 2, 5, 9 }, y.shape);
        Assert.Equal(SphericalHarmonics.Compute(2, x[1, 3].unsqueeze(0))[0].data<double>().ToArray(), y[1, 3].data<double>().ToArray());
    }
}
