using System.Diagnostics;
using EquiSharp.Graphs;
using EquiSharp.Neighbourhoods;
using TorchSharp;
using Xunit;
using static EquiSharp.Tests.Neighbourhoods.BruteForce;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Neighbourhoods;

public class FullyConnectedGraphTests
{
    private static List<(long J, long I)> Reference(int[] counts, bool self)
    {
        var edges = new List<(long, long)>();
        long p0 = 0;
        foreach (int c in counts)
        {
            for (long i = p0; i < p0 + c; i++)
                for (long j = p0; j < p0 + c; j++)
                    if (i != j || self) edges.Add((j, i));
            p0 += c;
        }
        return edges;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EdgesAreEveryOrderedPairPerGraphSortedByTargetThenSource(bool self)
    {
        int[] counts = [5, 0, 1, 2, 7, 3];
        using var batch = BatchFromCounts(counts);
        using var fromBatch = FullyConnectedGraph.Build(batch, self);
        AssertSameEdges(Reference(counts, self), fromBatch);
        using var fromCounts = FullyConnectedGraph.FromNodeCounts(counts.Select(c => (long)c).ToArray(), self);
        Assert.Equal(Edges(fromBatch), Edges(fromCounts));
        long expected = counts.Sum(c => self ? (long)c * c : (long)c * (c - 1));
        Assert.Equal(expected, fromBatch.shape[1]);
    }

    [Fact]
    public void SingleGraphCounts()
    {
        foreach (long n in new long[] { 0, 1, 2, 5, 31 })
        {
            using var e = FullyConnectedGraph.Build(n);
            Assert.Equal([2, n * (n - 1) < 0 ? 0 : n * (n - 1)], e.shape);
            using var s = FullyConnectedGraph.Build(n, selfLoops: true);
            Assert.Equal(n * n, s.shape[1]);
            AssertSameEdges(Reference([(int)n], false), e);
        }
    }

    [Fact]
    public void GraphBatchOverloadAndDisjointness()
    {
        var graphs = Enumerable.Range(0, 3).Select(g => new GeometricGraph
        {
            Positions = torch.rand(4 + g, 3, dtype: ScalarType.Float64),
            EdgeIndex = torch.empty(2, 0, dtype: ScalarType.Int64),
        }).ToList();
        using var gb = GraphBatch.FromGraphs(graphs);
        using var e = FullyConnectedGraph.Build(gb);
        AssertSameEdges(Reference([4, 5, 6], false), e);
        var batchOf = gb.Batch.data<long>().ToArray();
        Assert.All(Edges(e), edge => Assert.Equal(batchOf[edge.J], batchOf[edge.I]));
    }

    [Fact]
    public void HundredGraphsOfFiveNodesAreFast()
    {
        using var batch = BatchFromCounts(Enumerable.Repeat(5, 100).ToArray());
        using (FullyConnectedGraph.Build(batch)) { }   // warm-up
        var sw = Stopwatch.StartNew();
        for (int it = 0; it < 20; it++)
        {
            using var e = FullyConnectedGraph.Build(batch);
            Assert.Equal(2000, e.shape[1]);
        }
        // Vectorised: well under a millisecond per call; 20 calls in 1 s leaves room for a loaded CI machine.
        Assert.True(sw.ElapsedMilliseconds < 1000, $"20 calls took {sw.ElapsedMilliseconds} ms");
        AssertSameEdges(Reference(Enumerable.Repeat(5, 100).ToArray(), false), FullyConnectedGraph.Build(batch));
    }

    [Fact]
    public void BadInputsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FullyConnectedGraph.Build(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => FullyConnectedGraph.FromNodeCounts(new long[] { 3, -2 }));
        Assert.Contains("sorted", Assert.Throws<GraphValidationException>(() => FullyConnectedGraph.Build(torch.tensor(new long[] { 0, 1, 0 }))).Message);
        Assert.Contains("[N]", Assert.Throws<GraphValidationException>(() => FullyConnectedGraph.Build(torch.zeros(2, 2, dtype: ScalarType.Int64))).Message);
    }
}
