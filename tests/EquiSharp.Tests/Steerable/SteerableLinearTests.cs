using EquiSharp.Equivariance;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class SteerableLinearTests
{
    private static readonly Irreps Attr = Irreps.SphericalHarmonics(2);

    [Fact]
    public void SteerableLinearIsTheFullyConnectedProductWithRescaledWeightsPlusScalarBiases()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        Irreps input = "3x0e+2x1o", output = "4x0e+2x1o+1x0e";
        var layer = new SteerableLinear(input, output, Attr).to(ScalarType.Float64);
        var reference = new FullyConnectedTensorProduct(input, Attr, output).to(ScalarType.Float64);
        // Fan-in per output block (Σ mul1·mul2 over its paths): 0e outputs 3·1 + 2·1 = 5, 1o outputs 3 + 2 + 2 = 7.
        var fan = new[] { 5.0, 7.0, 5.0 };
        var pieces = new List<Tensor>();
        long offset = 0;
        foreach (var p in reference.Instructions)
        {
            long numel = p.WeightShape(input[p.In1].Mul, Attr[p.In2].Mul, output[p.Out].Mul).Aggregate(1L, (a, b) => a * b);
            var w = layer.Product.Weight!.narrow(0, offset, numel);
            double bound = 1 / Math.Sqrt(fan[p.Out]);
            Assert.True(w.abs().max().item<double>() <= bound, "weights are uniform in ±1/sqrt(fan-in)");
            pieces.Add(w * Math.Sqrt(fan[p.Out]));
            offset += numel;
        }
        using (torch.no_grad()) reference.Weight!.copy_(torch.cat(pieces));
        var gen = new Generator(2);
        var x = torch.randn(new long[] { 7, input.Dim }, dtype: ScalarType.Float64, generator: gen);
        var a = SphericalHarmonics.Compute(2, torch.randn(new long[] { 7, 3 }, dtype: ScalarType.Float64, generator: gen));
        var difference = layer.forward(x, a) - reference.forward(x, a);
        // The difference is the bias: on the 0e outputs only, the same for every row.
        Assert.True(difference.narrow(1, 4, 6).abs().max().item<double>() < 1e-12);
        Assert.True((difference - difference[0]).abs().max().item<double>() < 1e-12);
        Assert.True(difference.narrow(1, 0, 4).abs().max().item<double>() > 0);
        Assert.Contains(layer.parameters(), p => p.shape.SequenceEqual(new long[] { 5 })); // one bias per 0e output channel
    }

    [Fact]
    public void GatedSteerableMlpIsO3Equivariant_WithTheKit()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        Irreps input = "3x0e+2x1o+1x2e", hidden = "6x0e+3x1o+2x2e", output = "2x0e+2x1o";
        var mlp = new SteerableMlp(input, new[] { hidden, output }, Attr, gateLast: true).to(ScalarType.Float64);
        Assert.True(mlp.Layers.All(l => l.Gated));
        Assert.Equal("11x0e+3x1o+2x2e", mlp.Layers[0].ProductIrrepsOut.ToString()); // scalars, 5 gates, gated
        var gen = new Generator(4);
        var inputs = new Dictionary<string, Tensor>
        {
            ["x"] = torch.randn(new long[] { 6, input.Dim }, dtype: ScalarType.Float64, generator: gen),
            ["a"] = SphericalHarmonics.Compute(2, torch.randn(new long[] { 6, 3 }, dtype: ScalarType.Float64, generator: gen)),
        };
        var specs = new[] { FieldSpec.Node("x", input.FieldType), FieldSpec.Node("a", Attr.FieldType) };
        var report = EquivarianceChecker.CheckFunction(d => new Dictionary<string, Tensor> { ["y"] = mlp.forward(d["x"], d["a"]) },
            inputs, specs, new[] { FieldSpec.Node("y", output.FieldType) }, new EquivarianceOptions { Name = "steerable MLP" }, spatialDim: 3);
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
        Assert.Contains(report.Cases, c => c.Check == "reflection");
        // Conditioning on a pseudovector attribute (1e) instead of Y_1 (1o) is caught by the reflection check.
        Irreps wrong = "1x0e+1x1e+1x2e";
        var bad = EquivarianceChecker.CheckFunction(d => new Dictionary<string, Tensor> { ["y"] = mlp.forward(d["x"], d["a"]) },
            inputs, new[] { specs[0], FieldSpec.Node("a", wrong.FieldType) }, new[] { FieldSpec.Node("y", output.FieldType) },
            new EquivarianceOptions { Name = "steerable MLP, wrong attribute" }, spatialDim: 3);
        Assert.True(bad.Failed("reflection"));
    }

    [Fact]
    public void BalancedIrrepsMatchTheScalarBudget_AndConcatRegroupsByIrrep()
    {
        Irreps attr = "0e+1o";
        var hidden = BalancedIrreps.WeightBalanced(64, attr, 1);
        Assert.Equal("32x0e+32x1o", hidden.ToString());
        Assert.Equal(4 * 32 * 32, BalancedIrreps.WeightCount(hidden, attr, hidden));
        Assert.Equal(64 * 64, BalancedIrreps.WeightCount("64x0e", attr, "64x0e"));
        Assert.Equal("31x0e+31x1o", (31 * Irreps.SphericalHarmonics(1)).ToString());
        Assert.True(BalancedIrreps.WeightCount("31x0e+31x1o", attr, "31x0e+31x1o") < 64 * 64);

        var concat = new IrrepsConcat("1x0e+1x1o", "1x0e+1x1o", "2x0e");
        Assert.Equal("4x0e+2x1o", concat.IrrepsOut.ToString());
        var a = torch.tensor(new double[] { 1, 2, 3, 4 }).view(1, 4);
        var b = torch.tensor(new double[] { 5, 6, 7, 8 }).view(1, 4);
        var e = torch.tensor(new double[] { 9, 10 }).view(1, 2);
        Assert.Equal(new double[] { 1, 5, 9, 10, 2, 3, 4, 6, 7, 8 }, concat.Apply(a, b, e).data<double>().ToArray());
        Assert.Contains("expected [rows, 2]", Assert.Throws<ArgumentException>(() => concat.Apply(a, b, a)).Message);
    }
}
