using EquiSharp.Equivariance;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class KitIntegrationTests
{
    [Fact]
    public void IrrepsTypedLayers_PassTheKit_AndWrongIrrepsFail()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(5);
        Irreps input = "4x0e+2x1o+1x2e";
        var gate = new Gate("2x0e", new Activation[] { new(x => x.tanh()) }, "3x0e", new Activation[] { new(x => x.sigmoid()) }, "2x1o+1x2e");
        var linear = new EquivariantLinear(input, gate.IrrepsIn).to(ScalarType.Float64);
        Func<Tensor, Tensor> model = x => gate.forward(linear.forward(x));
        var x = torch.randn(new long[] { 6, input.Dim }, dtype: ScalarType.Float64, generator: new Generator(6));
        var options = new EquivarianceOptions { Name = "linear+gate" };
        var report = EquivarianceChecker.CheckFunction(model, x, input.FieldType, FieldSpec.Node("features", gate.IrrepsOut.FieldType), options, spatialDim: 3);
        Assert.True(report.Passed, report.ToTable());
        Assert.Contains(report.Cases, c => c.Check == "reflection");
        Assert.Contains("2x0e+2x1o+1x2e", report.ToTable());
        // Declaring the vectors as pseudovectors (1e) is caught by the reflection check only.
        Irreps wrong = "2x0e+2x1e+1x2e";
        var bad = EquivarianceChecker.CheckFunction(model, x, input.FieldType, FieldSpec.Node("features", wrong.FieldType), options, spatialDim: 3);
        Assert.True(bad.Failed("reflection"));
        Assert.False(bad.Failed("rotation"));
    }

    [Fact]
    public void SphericalHarmonicsOfVectors_AreIrrepsFields()
    {
        using var scope = torch.NewDisposeScope();
        var sh = new SphericalHarmonics(4);
        var v = torch.randn(new long[] { 5, 3 }, dtype: ScalarType.Float64, generator: new Generator(7));
        var report = EquivarianceChecker.CheckFunction(sh.forward, v, FieldType.Vector, FieldSpec.Node("Y", sh.Irreps.FieldType));
        Assert.True(report.Passed, report.ToTable());
        Assert.True(report.MaxRelativeError < 1e-10);
    }
}
