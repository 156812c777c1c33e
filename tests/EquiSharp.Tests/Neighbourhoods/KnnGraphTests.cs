using EquiSharp.Graphs;
using EquiSharp.Neighbourhoods;
using TorchSharp;
using Xunit;
using static EquiSharp.Tests.Neighbourhoods.BruteForce;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Neighbourhoods;

public class KnnGraphTests
{
    [Theory]
    [InlineData(1, 300, 1)]
    [InlineData(1, 300, 7)]
    [InlineData(2, 400, 5)]
    [InlineData(2, 250, 16)]
    [InlineData(3, 500, 1)]
    [InlineData(3, 600, 16)]
    [InlineData(3, 200, 40)]
    [InlineData(4, 300, 6)]
    public void MatchesBruteForceOnUniformClouds(int d, int n, int k)
    {
        var x = Uniform(new Random(100 * d + k), n, d);
        using var pos = Tensor(x, d);
        using var result = KnnGraph.Build(pos, k);
        AssertSameEdges(Knn(x, d, [0, n], k), result.EdgeIndex);
        Assert.Equal((long)n * k, result.NumEdges);
        Assert.Equal(0, result.DroppedEdges);
    }

    [Fact]
    public void TiesAreBrokenBySmallerSourceIndex()
    {
        // Integer lattice points with duplicates: many neighbours at equal distances.
        var rng = new Random(61);
        int n = 500;
        var x = new double[n * 3];
        for (int t = 0; t < x.Length; t++) x[t] = rng.Next(0, 6);
        using var pos = Tensor(x, 3);
        foreach (int k in new[] { 1, 4, 9, 30 })
        {
            using var result = KnnGraph.Build(pos, k);
            AssertSameEdges(Knn(x, 3, [0, n], k), result.EdgeIndex);
        }
    }

    [Fact]
    public void AllPointsCoincident()
    {
        using var pos = torch.ones(20, 3, dtype: ScalarType.Float64);
        using var result = KnnGraph.Build(pos, 5);
        AssertSameEdges(Knn(new double[60].Select(_ => 1.0).ToArray(), 3, [0, 20], 5), result.EdgeIndex);
    }

    [Fact]
    public void ClusteredAndFlatCloudsMatchBruteForce()
    {
        var rng = new Random(67);
        var pts = new List<double>();
        for (int c = 0; c < 4; c++)
        {
            double cx = rng.NextDouble() * 1e3;
            for (int i = 0; i < 100; i++) pts.AddRange([cx + rng.NextDouble() * 1e-2, rng.NextDouble() * 1e-2, 0.0]);
        }
        for (int i = 0; i < 10; i++) pts.AddRange([rng.NextDouble() * 1e4, rng.NextDouble() * 1e4, 0.0]);
        var x = pts.ToArray();
        int n = x.Length / 3;
        using var pos = Tensor(x, 3);
        foreach (int k in new[] { 3, 12 })
        {
            using var result = KnnGraph.Build(pos, k);
            AssertSameEdges(Knn(x, 3, [0, n], k), result.EdgeIndex);
        }
    }

    [Fact]
    public void GraphsWithAtMostKNodesAreFullyConnected()
    {
        var x = Uniform(new Random(71), 9, 3);
        using var pos = Tensor(x, 3);
        using var batch = BatchFromCounts(1, 3, 5);
        using var result = KnnGraph.Build(pos, 4, batch);
        // Graph sizes 1, 3, 5 with k = 4: 0, 3·2 and 5·4 edges, i.e. each graph fully connected.
        using var full = FullyConnectedGraph.FromNodeCounts([1L, 3, 5]);
        Assert.Equal(Edges(full), Edges(result.EdgeIndex));
        using var withSelf = KnnGraph.Build(pos, 4, batch, selfLoops: true);
        using var fullSelf = FullyConnectedGraph.FromNodeCounts([1L, 3, 5], selfLoops: true);
        Assert.Equal(Edges(fullSelf), Edges(withSelf.EdgeIndex));
    }

    [Fact]
    public void ZeroNeighboursGivesOnlySelfLoopsIfRequested()
    {
        using var pos = Tensor(Uniform(new Random(73), 30, 2), 2);
        using var none = KnnGraph.Build(pos, 0);
        Assert.Equal(0, none.NumEdges);
        using var self = KnnGraph.Build(pos, 0, selfLoops: true);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => ((long)i, (long)i)).ToList(), Edges(self.EdgeIndex));
    }

    [Fact]
    public void BatchesAndSelfLoopsMatchPerGraphBruteForce()
    {
        var rng = new Random(79);
        int[] counts = [50, 0, 7, 120, 2];
        int n = counts.Sum();
        var x = Uniform(rng, n, 3);
        using var pos = Tensor(x, 3, ScalarType.Float32);
        var xs = AsFloat32(x);
        using var batch = BatchFromCounts(counts);
        using var result = KnnGraph.Build(pos, 6, batch, selfLoops: true);
        AssertSameEdges(Knn(xs, 3, PtrFromCounts(counts), 6, self: true), result.EdgeIndex);

        var graphs = new List<GeometricGraph>();
        for (int g = 0; g < counts.Length; g++)
            graphs.Add(new GeometricGraph { Positions = pos.narrow(0, PtrFromCounts(counts)[g], counts[g]), EdgeIndex = torch.empty(2, 0, dtype: ScalarType.Int64) });
        using var gb = GraphBatch.FromGraphs(graphs);
        using var viaBatch = KnnGraph.Build(gb, 6, selfLoops: true);
        Assert.Equal(Edges(result.EdgeIndex), Edges(viaBatch.EdgeIndex));
    }

    [Fact]
    public void ThreadedSearchOfALargeCloudEqualsTheSingleThreadedOneAndSpotChecks()
    {
        var x = Uniform(new Random(83), 30_000, 3);
        using var pos = Tensor(x, 3);
        int saved = KnnGraph.MaxThreads;
        try
        {
            KnnGraph.MaxThreads = 1;
            using var one = KnnGraph.Build(pos, 16);
            KnnGraph.MaxThreads = 4;
            using var four = KnnGraph.Build(pos, 16);
            var a = Edges(one.EdgeIndex);
            Assert.Equal(a, Edges(four.EdgeIndex));
            // Brute-force check of a few targets.
            foreach (int i in new[] { 0, 1234, 29_999 })
            {
                var expected = Enumerable.Range(0, 30_000).Where(j => j != i)
                    .OrderBy(j => Dist2(x, 3, i, j)).ThenBy(j => j).Take(16).Select(j => (long)j).Order().ToList();
                Assert.Equal(expected, a.Skip(16 * i).Take(16).Select(e => e.J).ToList());
            }
        }
        finally { KnnGraph.MaxThreads = saved; }
    }

    [Fact]
    public void GeometryIsReturnedOnRequest()
    {
        var x = Uniform(new Random(89), 40, 3);
        using var pos = Tensor(x, 3);
        using var result = KnnGraph.Build(pos, 3, computeGeometry: true);
        var edges = Edges(result.EdgeIndex);
        var dist = result.Distances!.data<double>().ToArray();
        for (int e = 0; e < edges.Count; e++)
            Assert.Equal(Math.Sqrt(Dist2(x, 3, (int)edges[e].I, (int)edges[e].J)), dist[e], 14);
    }

    [Fact]
    public void BadInputsAreRejected()
    {
        using var pos = torch.zeros(5, 3);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => KnnGraph.Build(pos, -1)).ParamName);
        var nan = torch.zeros(5, 3);
        nan[3, 2] = torch.tensor(float.NaN);
        Assert.Contains("point 3", Assert.Throws<GraphValidationException>(() => KnnGraph.Build(nan, 2)).Message);
        Assert.Contains("sorted", Assert.Throws<GraphValidationException>(() => KnnGraph.Build(pos, 2, torch.tensor(new long[] { 1, 1, 0, 0, 0 }))).Message);
    }
}
