using EquiSharp.MessagePassing;
using EquiSharp.Tests.TestUtilities;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Agg = EquiSharp.Aggregation.Aggregation;

namespace EquiSharp.Tests.MessagePassing;

public class EdgeNetworkConvTests
{
    [Theory]
    [InlineData(Agg.Sum)]
    [InlineData(Agg.Mean)]
    public void MatchesPerNodeReference(Agg aggregation)
    {
        torch.manual_seed(3);
        const int n = 6, inC = 3, outC = 4, edgeC = 2;
        var conv = new EdgeNetworkConv(inC, outC, edgeC, edgeHidden: 5, aggregation: aggregation).to(ScalarType.Float64);
        var edgeIndex = torch.tensor(new long[,] { { 0, 1, 2, 3, 4, 5, 0, 2 }, { 1, 2, 3, 4, 5, 0, 3, 1 } });
        var x = torch.randn(n, inC, dtype: ScalarType.Float64);
        var a = torch.randn(8, edgeC, dtype: ScalarType.Float64);
        var result = conv.forward(x, EdgeContext.FromEdgeIndex(edgeIndex, n, a));

        // Reference: f_i Θ + b + AGG_j f_j A(a_ij), with Θ, b and A read back from the module.
        var p = conv.named_parameters().ToDictionary(t => t.name, t => t.parameter);
        var src = edgeIndex[0].data<long>().ToArray();
        var dst = edgeIndex[1].data<long>().ToArray();
        for (int i = 0; i < n; i++)
        {
            var expected = x[i].matmul(p["root.weight"].t()) + p["bias"];
            var incoming = Enumerable.Range(0, src.Length).Where(e => dst[e] == i).ToArray();
            var acc = torch.zeros(outC, dtype: ScalarType.Float64);
            foreach (int e in incoming)
            {
                var hidden = torch.nn.functional.relu(a[e].matmul(p["edgeNetwork.0.weight"].t()) + p["edgeNetwork.0.bias"]);
                var matrix = (hidden.matmul(p["edgeNetwork.2.weight"].t()) + p["edgeNetwork.2.bias"]).view(inC, outC);
                acc += x[src[e]].matmul(matrix);
            }
            if (aggregation == Agg.Mean && incoming.Length > 0) acc /= incoming.Length;
            Assert.True(torch.allclose(result[i], expected + acc, rtol: 1e-12, atol: 1e-12), $"node {i}");
        }
    }

    [Fact]
    public void GradientsWithRespectToFeaturesMatchFiniteDifferences()
    {
        torch.manual_seed(4);
        var conv = new EdgeNetworkConv(2, 3, 2, edgeHidden: 4).to(ScalarType.Float64);
        var edgeIndex = torch.tensor(new long[,] { { 0, 1, 2, 3 }, { 1, 2, 3, 0 } });
        var a = torch.randn(4, 2, dtype: ScalarType.Float64);
        var x = torch.randn(4, 2, dtype: ScalarType.Float64);
        var edges = EdgeContext.FromEdgeIndex(edgeIndex, 4, a);
        Assert.True(FiniteDifferences.MaxGradientError(t => conv.forward(t, edges), x) < 1e-7);
        Assert.True(FiniteDifferences.MaxGradientError(t => conv.forward(x, EdgeContext.FromEdgeIndex(edgeIndex, 4, t)), a) < 1e-7);
    }

    [Fact]
    public void MissingOrMisshapedEdgeAttributesAreClearErrors()
    {
        var conv = new EdgeNetworkConv(2, 2, 3);
        var edgeIndex = torch.tensor(new long[,] { { 0 }, { 1 } });
        var ex = Assert.Throws<ArgumentException>(() => conv.forward(torch.zeros(2, 2), EdgeContext.FromEdgeIndex(edgeIndex, 2)));
        Assert.Contains("edge attributes", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => conv.forward(torch.zeros(2, 2), EdgeContext.FromEdgeIndex(edgeIndex, 2, torch.zeros(1, 2))));
        Assert.Contains("[E, 3]", ex.Message);
    }
}
