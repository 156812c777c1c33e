using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

/// <summary>
/// <see cref="SteerableLinear.ForwardGathered"/> (weights applied per node before the gather) against the plain route
/// through the concatenation [nodes[target], nodes[source], edge inputs]: values and every gradient, float64.
/// </summary>
public class GatheredSteerableLinearTests
{
    public static TheoryData<string, string, string, string, bool> Cases => new()
    {
        // SEGNN's N-body message layer (hidden balanced irreps, attributes l ≤ 1, two scalar extras), gated.
        { "26x0e+8x1o", "2x0e", "0e+1o", "26x0e+8x1o", true },
        // Attributes up to l = 2, odd and even outputs, no edge inputs, not gated.
        { "3x0e+2x1o+1x2e", "", "0e+1o+2e", "4x0e+3x1o+2x1e+1x2e", false },
        // Edge inputs with vectors (their blocks merge with the node blocks of the same irrep).
        { "2x0e+3x1o", "1x0e+2x1o", "0e+1o", "3x0e+2x1o", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GatheredForwardEqualsTheConcatenationRoute(string nodeText, string edgeText, string attrText, string outText, bool gated)
    {
        Irreps node = nodeText, edgeIrreps = edgeText == "" ? Irreps.Empty : Irreps.Parse(edgeText), attrIrreps = attrText, output = outText;
        var concat = new IrrepsConcat(node, node, edgeIrreps);
        torch.manual_seed(3);
        using var layer = new SteerableLinear(concat.IrrepsOut, output, attrIrreps, gated);
        layer.to(ScalarType.Float64);
        Assert.True(layer.Product.SupportsGathered(concat));

        const long n = 6, e = 17;
        var gen = new Generator(4);
        var target = torch.randint(0, n, new[] { e }, generator: gen);
        var source = torch.randint(0, n, new[] { e }, generator: gen);
        Tensor Leaf(long rows, long cols) => torch.randn(new[] { rows, cols }, dtype: ScalarType.Float64, generator: gen).requires_grad_(true);
        var nodes = Leaf(n, node.Dim);
        var edgeInputs = edgeIrreps.Dim > 0 ? Leaf(e, edgeIrreps.Dim) : null;
        var attr = Leaf(e, attrIrreps.Dim);
        var probe = torch.randn(new[] { e, (long)output.Dim }, dtype: ScalarType.Float64, generator: gen);

        (Tensor Y, Tensor[] Grads) Run(bool gathered)
        {
            SteerableLinear.UseGathered = gathered;
            try
            {
                var y = layer.ForwardGathered(concat, nodes, target, source, edgeInputs, attr);
                var leaves = new[] { nodes, attr, layer.Product.Weight! }.Concat(edgeInputs is null ? [] : [edgeInputs]).ToArray();
                var grads = torch.autograd.grad([(y * probe).sum()], leaves);
                return (y.detach(), grads.Select(g => g.detach()).ToArray());
            }
            finally { SteerableLinear.UseGathered = true; }
        }

        var (plainY, plainGrads) = Run(false);
        var (gatheredY, gatheredGrads) = Run(true);
        Assert.True(plainY.abs().max().item<double>() > 1e-3);
        Assert.True((gatheredY - plainY).abs().max().item<double>() < 1e-12, "values differ");
        for (int k = 0; k < plainGrads.Length; k++)
        {
            Assert.True(plainGrads[k].abs().max().item<double>() > 1e-6, $"gradient {k} vanishes");
            Assert.True((gatheredGrads[k] - plainGrads[k]).abs().max().item<double>() < 1e-11, $"gradient {k} differs");
        }
    }

    [Fact]
    public void ConcatSegmentsNameTheInputChannelsOfEachRegroupedBlock()
    {
        var concat = new IrrepsConcat("2x0e+3x1o", "2x0e+3x1o", "1x0e+2x1o");
        Assert.Equal("5x0e+8x1o", concat.IrrepsOut.ToString());
        Assert.Equal(new[] { new ConcatSegment(0, 0, 2, 0), new ConcatSegment(1, 0, 2, 2), new ConcatSegment(2, 0, 1, 4) }, concat.Segments[0]);
        Assert.Equal(new[] { new ConcatSegment(0, 1, 3, 0), new ConcatSegment(1, 1, 3, 3), new ConcatSegment(2, 1, 2, 6) }, concat.Segments[1]);
    }

    [Fact]
    public void ProductsOutsideTheGatheredFormAreNotClaimed()
    {
        var concat = new IrrepsConcat("2x0e", "2x0e");
        Irreps uvuOut = "4x0e";
        var uvu = new TensorProduct(concat.IrrepsOut, "0e", uvuOut,
            [new TensorProductInstruction(0, 0, 0, ConnectionMode.Uvu)]);
        Assert.False(uvu.SupportsGathered(concat));
        var external = new TensorProduct(concat.IrrepsOut, "0e", "3x0e", [new TensorProductInstruction(0, 0, 0, ConnectionMode.Uvw)], internalWeights: false);
        Assert.False(external.SupportsGathered(concat));
        var uneven = new IrrepsConcat("2x0e", "3x0e");
        var fc = new FullyConnectedTensorProduct(uneven.IrrepsOut, "0e", "3x0e");
        Assert.False(fc.SupportsGathered(uneven));
    }
}
