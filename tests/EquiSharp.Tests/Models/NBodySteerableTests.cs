using EquiSharp.Datasets.NBody;
using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Models;

/// <summary>The steerable N-body models (SEGNN, TFN), checked with the equivariance kit in float64.</summary>
public class NBodySteerableTests(ITestOutputHelper output)
{
    private static readonly Lazy<NBodyDataset> Data = new(() =>
        NBodyDataset.Generate(13, new NBodySplitSizes(100, 0, 20), new NBodySimulationOptions(Steps: 4101)));

    [Theory]
    [InlineData("segnn")]
    [InlineData("tfn")]
    public void ModelIsE3AndPermutationEquivariant_WithTheKit(string name)
    {
        torch.manual_seed(31);
        var model = NBodyModels.Create(name, new NBodyModelOptions(Hidden: 8, Layers: 3));
        model.to(ScalarType.Float64);
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2 }, dtype: ScalarType.Float64);
        var y = model.forward(batch);
        Assert.Equal(new long[] { 15, 3 }, y.shape);
        double move = (y - batch.Positions).abs().max().item<double>();
        Assert.InRange(move, 1e-4, 50); // the model does move the particles
        var report = EquivarianceChecker.Check(b => model.forward(b), batch, FieldSpec.Node("x", FieldType.Position),
            new EquivarianceOptions { Name = name });
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
        foreach (var check in new[] { "rotation", "reflection", "translation", "permutation", "batching" })
            Assert.Contains(report.Cases, c => c.Check == check);
    }

    [Fact]
    public void PerAxisCentringOfTheReferenceCodeWouldBreakEquivariance()
    {
        // The reference subtracts the mean over the coordinate axes of each particle; this model
        // centres over the nodes of each system. The per-axis "centre" does not rotate with the
        // system, which is why the reference is not equivariant; the per-system centre does.
        var gen = new Generator(3);
        var x = torch.randn(new long[] { 5, 3 }, dtype: ScalarType.Float64, generator: gen);
        var q = E3Rotation(gen);
        var perAxis = x - x.mean(new long[] { 1 }, keepdim: true);
        var perAxisRotated = x.matmul(q) - x.matmul(q).mean(new long[] { 1 }, keepdim: true);
        Assert.True((perAxisRotated - perAxis.matmul(q)).abs().max().item<double>() > 1e-3);
        var perSystem = x - x.mean(new long[] { 0 }, keepdim: true);
        var perSystemRotated = x.matmul(q) - x.matmul(q).mean(new long[] { 0 }, keepdim: true);
        Assert.True((perSystemRotated - perSystem.matmul(q)).abs().max().item<double>() < 1e-12);
    }

    private static Tensor E3Rotation(Generator gen) => EquiSharp.Tests.MessagePassing.E3.RandomOrthogonal(gen, false);

    [Fact]
    public void ReferenceConfigurationAndInputErrors()
    {
        var model = (NBodySegnn)NBodyModels.Create("SEGNN");
        Assert.Equal("32x0e+32x1o", model.HiddenIrreps.ToString());
        Assert.Equal("1x0e+1x1o", model.AttributeIrreps.ToString());
        // Weights Σ mul1·mul2·mul_out over the coupled blocks, plus one bias per 0e output channel:
        // embedding (2x1o+1x0e → 32x0e+32x1o) 192 + 32; per layer: message 1 (66x0e+64x1o → 64x0e+32x1o)
        // 12480 + 64, message 2 (32x0e+32x1o → 64x0e+32x1o) 6144 + 64, update 1 (64x0e+64x1o → 64x0e+32x1o)
        // 12288 + 64, update 2 4096 + 32; head: gated 6144 + 64, then 64 weights to 1x1o. The same count
        // as the reference's layers (the regrouping of the inputs by irrep does not change it).
        long count = model.parameters().Sum(p => p.numel());
        output.WriteLine($"SEGNN parameters: {count}");
        Assert.Equal(224 + 4 * (12544 + 6208 + 12352 + 4128) + 6208 + 64, count);

        using var missing = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0 });
        Assert.Contains("NodeVectors", Assert.Throws<GraphValidationException>(() => model.forward(missing with { NodeVectors = null })).Message);
        Assert.Contains("EdgeAttributes", Assert.Throws<GraphValidationException>(() => model.forward(missing with { EdgeAttributes = torch.ones(20, 2) })).Message);
        var tfn = (NBodyTfn)NBodyModels.Create("tfn");
        Assert.Equal("32x0e+16x1o+8x2e", tfn.HiddenIrreps.ToString());
        Assert.Contains("charges", Assert.Throws<GraphValidationException>(() => tfn.forward(missing with { NodeFeatures = null })).Message);
    }
}
