using EquiSharp.Graphs;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class EquivariantInstanceNormTests
{
    [Fact]
    public void StatisticsArePerGraphAndPerChannel()
    {
        Irreps irreps = "2x0e+1x1o";
        var norm = new EquivariantInstanceNorm(irreps).to(ScalarType.Float64);
        var gen = new Generator(5);
        var x = torch.randn(new long[] { 7, irreps.Dim }, dtype: ScalarType.Float64, generator: gen) * 3 + 1;
        var batch = torch.tensor(new long[] { 0, 0, 0, 1, 1, 1, 1 });
        var y = norm.forward(x, batch, 2);
        foreach (var (start, count) in new[] { (0, 3), (3, 4) })
        {
            var g = y.narrow(0, start, count);
            var scalars = g.narrow(1, 0, 2);
            Assert.True(scalars.mean(new long[] { 0 }).abs().max().item<double>() < 1e-12, "0e channels are centred per graph");
            Assert.True((scalars.square().mean(new long[] { 0 }) - 1).abs().max().item<double>() < 1e-4, "unit mean square per channel");
            Assert.Equal(1.0, g.narrow(1, 2, 3).square().mean().item<double>(), 4); // the vector channel: mean |x|²/3 = 1
        }
        // Rotating the vectors rotates the output; the second graph's scale does not leak into the first.
        var q = EquiSharp.Tests.MessagePassing.E3.RandomOrthogonal(gen, true);
        var rotated = torch.cat(new[] { x.narrow(1, 0, 2), x.narrow(1, 2, 3).matmul(q) }, 1);
        var yr = norm.forward(rotated, batch, 2);
        Assert.True((yr.narrow(1, 2, 3) - y.narrow(1, 2, 3).matmul(q)).abs().max().item<double>() < 1e-12);
        var scaled = torch.cat(new[] { x.narrow(0, 0, 3), x.narrow(0, 3, 4) * 100 }, 0);
        Assert.True((norm.forward(scaled, batch, 2).narrow(0, 0, 3) - y.narrow(0, 0, 3)).abs().max().item<double>() < 1e-12);
        Assert.Throws<GraphValidationException>(() => norm.forward(x, batch.narrow(0, 0, 6), 2));
    }
}
