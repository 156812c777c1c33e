using EquiSharp.Benchmarks.Reference;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Reference;

/// <summary>
/// The benchmark project's rebuild of e3nn's tensor-product graph (the baseline of the steerable speed
/// comparisons) computes the same function as <see cref="TensorProduct"/>, so the comparison times the same product.
/// </summary>
public class ReferenceTensorProductTests
{
    public static TheoryData<string, string, string, string, bool> Cases => new()
    {
        // The benchmarks: uvu with per-edge weights, and the fully connected (uvw) product with shared weights.
        { "32x0e+32x1o", "0e+1o+2e", "32x0e+32x1o", "uvu", false },
        { "16x0e+16x1o+16x2e", "0e+1o+2e", "16x0e+16x1o+16x2e", "uvw", true },
        // Multiplicities above 1 in input 2, per-row uvw weights, odd parities, an output block no path reaches.
        { "3x0e+2x1o+2x2e", "2x0e+1x1o+2x1e", "2x0e+3x1o+1x1e+2x2o+1x3o", "uvw", false },
        { "4x0e+3x1o+2x2e", "1x0e+2x1o", "4x0e+3x1o+2x2e+4x1e", "uvu", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RebuildOfE3nnGraphEqualsTensorProduct(string a, string b, string c, string mode, bool shared)
    {
        Irreps in1 = a, in2 = b, output = c;
        var connection = mode == "uvu" ? ConnectionMode.Uvu : ConnectionMode.Uvw;
        var paths = FullyConnectedTensorProduct.Paths(in1, in2, output)
            .Where(p => connection == ConnectionMode.Uvw || in1[p.In1].Mul == output[p.Out].Mul)
            .Select(p => p with { Mode = connection }).ToArray();
        Assert.NotEmpty(paths);
        torch.manual_seed(11);
        using var product = new TensorProduct(in1, in2, output, paths, internalWeights: false);
        var reference = new ReferenceTensorProduct(product, shared, ScalarType.Float64);
        Assert.Equal(product.WeightNumel, reference.WeightNumel);

        const long rows = 7;
        var x1 = torch.randn(rows, in1.Dim, dtype: ScalarType.Float64);
        var x2 = torch.randn(rows, in2.Dim, dtype: ScalarType.Float64);
        var weights = shared ? torch.randn(product.WeightNumel, dtype: ScalarType.Float64) : torch.randn(rows, product.WeightNumel, dtype: ScalarType.Float64);
        var expected = product.forward(x1, x2, shared ? weights.expand(rows, -1) : weights);
        var actual = reference.Forward(x1, x2, weights);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.abs().max().item<double>() > 1e-3);
        double error = (actual - expected).abs().max().item<double>();
        Assert.True(error < 1e-12, $"max difference {error}");
    }
}
