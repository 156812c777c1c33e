using EquiSharp.Readout;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Readout;

public class ReadoutTests
{
    [Fact]
    public void GlobalPoolSumsAndAveragesPerGraph()
    {
        var x = torch.tensor(new double[] { 1, 2, 3, 4, 5 }).view(5, 1);
        var batch = torch.tensor(new long[] { 0, 0, 1, 1, 1 });
        Assert.Equal(new double[] { 3, 12, 0 }, GlobalPool.Sum(x, batch, 3).data<double>().ToArray());
        Assert.Equal(new double[] { 1.5, 4, 0 }, GlobalPool.Mean(x, batch, 3).data<double>().ToArray());
        Assert.Equal(new double[] { 2, 5, 0 }, GlobalPool.Max(x, batch, 3).data<double>().ToArray());
    }

    [Fact]
    public void Set2SetIsPermutationInvariantAndBatchesIndependently()
    {
        torch.manual_seed(5);
        var s2s = new Set2Set(4, steps: 3).to(ScalarType.Float64);
        var x = torch.randn(7, 4, dtype: ScalarType.Float64);
        var batch = torch.tensor(new long[] { 0, 0, 0, 1, 1, 1, 1 });
        var pooled = s2s.forward(x, batch, 2);
        Assert.Equal(new long[] { 2, 8 }, pooled.shape);

        // Shuffle nodes within their graphs (keep batch sorted): same output.
        var perm = torch.tensor(new long[] { 2, 0, 1, 6, 4, 3, 5 });
        Assert.True(torch.allclose(pooled, s2s.forward(x.index_select(0, perm), batch, 2), rtol: 1e-12, atol: 1e-12));

        // Each graph alone gives its row of the batched result.
        var first = s2s.forward(x.narrow(0, 0, 3), torch.zeros(3, dtype: ScalarType.Int64), 1);
        var second = s2s.forward(x.narrow(0, 3, 4), torch.zeros(4, dtype: ScalarType.Int64), 1);
        Assert.True(torch.allclose(pooled[0], first[0], rtol: 1e-12, atol: 1e-12));
        Assert.True(torch.allclose(pooled[1], second[0], rtol: 1e-12, atol: 1e-12));
    }
}
