using EquiSharp.Graphs;
using EquiSharp.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Models;

public class MpnnTests
{
    /// <summary>Fully connected random graphs whose edge attributes are distances and whose target is the mean pair distance.</summary>
    internal static GeometricGraph DistanceGraph(int nodes, Generator gen, ScalarType dtype = ScalarType.Float64)
    {
        var pos = torch.randn(new long[] { nodes, 3 }, dtype: dtype, generator: gen);
        var src = new List<long>();
        var dst = new List<long>();
        for (int i = 0; i < nodes; i++)
            for (int j = 0; j < nodes; j++)
                if (i != j) { src.Add(j); dst.Add(i); }
        var edgeIndex = torch.stack(new[] { torch.tensor(src.ToArray()), torch.tensor(dst.ToArray()) });
        var dist = (pos.index_select(0, edgeIndex[0]) - pos.index_select(0, edgeIndex[1])).norm(1, keepdim: true);
        return new GeometricGraph
        {
            Positions = pos,
            EdgeIndex = edgeIndex,
            NodeFeatures = torch.randn(new long[] { nodes, 3 }, dtype: dtype, generator: gen),
            EdgeAttributes = dist,
            GraphTarget = dist.mean().view(1),
        };
    }

    [Fact]
    public void PredictsOneRowPerGraphAndLearns()
    {
        torch.manual_seed(11);
        var gen = new torch.Generator(11);
        var graphs = Enumerable.Range(0, 16).Select(k => DistanceGraph(3 + k % 4, gen, ScalarType.Float32)).ToArray();
        using var batch = GraphBatch.FromGraphs(graphs);
        var model = new Mpnn(new MpnnOptions(NodeChannels: 3, EdgeChannels: 1, Hidden: 16, EdgeHidden: 16));
        Assert.Equal(new long[] { 16, 1 }, model.forward(batch).shape);

        var optimizer = torch.optim.Adam(model.parameters(), lr: 3e-3);
        double first = 0, last = 0;
        for (int step = 0; step < 150; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = torch.nn.functional.mse_loss(model.forward(batch), batch.GraphTarget!);
            loss.backward();
            optimizer.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.True(last < 0.1 * first, $"loss went from {first} to {last}");
    }

    [Fact]
    public void MissingInputsAreClearErrors()
    {
        var gen = new torch.Generator(1);
        var g = DistanceGraph(4, gen, ScalarType.Float32);
        var model = new Mpnn(new MpnnOptions(NodeChannels: 3, EdgeChannels: 1, Hidden: 8, EdgeHidden: 8));
        using var noEdgeAttr = GraphBatch.FromGraphs(new[] { g with { EdgeAttributes = null } });
        Assert.Contains("EdgeAttributes", Assert.Throws<GraphValidationException>(() => model.forward(noEdgeAttr)).Message);
        using var wrongFeatures = GraphBatch.FromGraphs(new[] { g with { NodeFeatures = torch.zeros(4, 5) } });
        Assert.Contains("[N, 3]", Assert.Throws<GraphValidationException>(() => model.forward(wrongFeatures)).Message);
    }
}
