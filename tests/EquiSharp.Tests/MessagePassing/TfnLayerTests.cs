using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.MessagePassing;

public class TfnLayerTests
{
    private static readonly Irreps Input = "3x0e+2x1o+1x2e";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TfnLayerIsO3TranslationAndPermutationEquivariant_WithTheKit(bool gated)
    {
        torch.manual_seed(11);
        Irreps output = gated ? "4x0e+2x1o+2x2e+1x1e" : "2x1o+1x0e";
        var layer = new TfnLayer(Input, output, shLmax: 2, edgeScalars: 1, radialHidden: 8, gated: gated);
        layer.to(ScalarType.Float64);
        Assert.Equal(output, layer.IrrepsOut);
        using var batch = SegnnLayerTests.Systems(new Generator(12), Input);
        Tensor Run(GraphBatch b) => layer.forward(b.NodeFeatures!, b.Positions, EdgeContext.FromBatch(b), b.EdgeAttributes);
        var options = new EquivarianceOptions
        {
            Name = $"TFN layer (gated {gated})",
            Inputs = new InputFieldTypes { NodeFeatures = Input.FieldType },
        };
        var report = EquivarianceChecker.Check(Run, batch, FieldSpec.Node("f", output.FieldType), options);
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
        foreach (var check in new[] { "rotation", "reflection", "translation", "permutation", "batching" })
            Assert.Contains(report.Cases, c => c.Check == check);
    }

    [Fact]
    public void MessagesAreLinearInTheNeighbourFeatures()
    {
        // The defining property of the linear convolution: without gate, f ↦ f' is linear.
        torch.manual_seed(13);
        var layer = new TfnLayer(Input, "2x0e+2x1o", edgeScalars: 1, gated: false).to(ScalarType.Float64);
        using var batch = SegnnLayerTests.Systems(new Generator(14), Input);
        var edges = EdgeContext.FromBatch(batch);
        var f = batch.NodeFeatures!;
        var g = torch.randn_like(f);
        var lhs = layer.forward(f * 2 + g * 3, batch.Positions, edges, batch.EdgeAttributes) - layer.forward(torch.zeros_like(f), batch.Positions, edges, batch.EdgeAttributes);
        var rhs = (layer.forward(f, batch.Positions, edges, batch.EdgeAttributes) - layer.forward(torch.zeros_like(f), batch.Positions, edges, batch.EdgeAttributes)) * 2
                  + (layer.forward(g, batch.Positions, edges, batch.EdgeAttributes) - layer.forward(torch.zeros_like(f), batch.Positions, edges, batch.EdgeAttributes)) * 3;
        Assert.True((lhs - rhs).abs().max().item<double>() < 1e-10);
        Assert.Contains("edge scalars", Assert.Throws<GraphValidationException>(() => layer.forward(f, batch.Positions, edges)).Message);
        Assert.Throws<ArgumentException>(() => new TfnLayer(Input, "2x0e", aggregation: EquiSharp.Aggregation.Aggregation.Max));
    }
}
