using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Agg = EquiSharp.Aggregation.Aggregation;

namespace EquiSharp.Tests.MessagePassing;

public class MessagePassingLayerTests
{
    /// <summary>m_ij = [f_i, f_j]; update concatenates f_i and the aggregate: exposes the data flow.</summary>
    private sealed class Probe(Agg aggregation) : MessagePassingLayer(nameof(Probe), aggregation)
    {
        protected override Tensor Message(Tensor target, Tensor source, EdgeContext edges) => torch.cat(new[] { target, source }, 1);
        protected override Tensor Update(Tensor nodeFeatures, Tensor aggregated) => torch.cat(new[] { nodeFeatures, aggregated }, 1);
    }

    [Fact]
    public void MessagesFlowFromSourceRowToTargetRow()
    {
        // Edges 0 -> 1 and 2 -> 1 (row 0 = source j, row 1 = target i).
        var f = torch.tensor(new double[] { 10, 20, 30 }).view(3, 1);
        var edges = EdgeContext.FromEdgeIndex(torch.tensor(new long[,] { { 0, 2 }, { 1, 1 } }), 3);
        var sum = new Probe(Agg.Sum).forward(f, edges);
        // Node 1: f_i = 20 twice, f_j = 10 + 30. Nodes 0 and 2 receive nothing.
        Assert.Equal(new double[] { 10, 0, 0, 20, 40, 40, 30, 0, 0 }, sum.data<double>().ToArray());
        var mean = new Probe(Agg.Mean).forward(f, edges);
        Assert.Equal(new double[] { 10, 0, 0, 20, 20, 20, 30, 0, 0 }, mean.data<double>().ToArray());
        var max = new Probe(Agg.Max).forward(f, edges);
        Assert.Equal(30.0, max[1, 2].item<double>());
    }

    [Fact]
    public void WrongNodeCountIsAClearError()
    {
        var edges = EdgeContext.FromEdgeIndex(torch.tensor(new long[,] { { 0 }, { 1 } }), 3);
        var ex = Assert.Throws<ArgumentException>(() => new Probe(Agg.Sum).forward(torch.zeros(4, 2), edges));
        Assert.Contains("N = 3", ex.Message);
        var ex2 = Assert.Throws<GraphValidationException>(() => EdgeContext.FromEdgeIndex(torch.tensor(new long[,] { { 0 }, { 3 } }), 3));
        Assert.Contains("EdgeIndex[1, 0]", ex2.Message);
    }
}
