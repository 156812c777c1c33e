using EquiSharp.Graphs;
using EquiSharp.Neighbourhoods;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using TorchSharp;
using Xunit;
using static EquiSharp.Tests.Neighbourhoods.BruteForce;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Neighbourhoods;

public class RadiusGraphTests
{
    [Theory]
    [InlineData(1, 200, 0.01)]
    [InlineData(1, 300, 0.2)]
    [InlineData(2, 300, 0.05)]
    [InlineData(2, 400, 0.15)]
    [InlineData(3, 500, 0.1)]
    [InlineData(3, 700, 0.25)]
    [InlineData(4, 300, 0.4)]
    public void MatchesBruteForceOnUniformClouds(int d, int n, double r)
    {
        var rng = new Random(1000 * d + n);
        var x = Uniform(rng, n, d);
        using var pos = Tensor(x, d);
        var expected = Radius(x, d, [0, n], r);
        foreach (var (m, clip) in SearchVariants)
        {
            RadiusGraph.CellsPerCutoff = m;
            RadiusGraph.ClipRowsPerTarget = clip;
            try
            {
                using var result = RadiusGraph.Build(pos, r);
                AssertSameEdges(expected, result.EdgeIndex);
                Assert.Equal(0, result.DroppedEdges);
            }
            finally { RadiusGraph.CellsPerCutoff = 1; RadiusGraph.ClipRowsPerTarget = false; }
        }
    }

    /// <summary>Cells per cutoff and per-target row clipping: every variant must give the same edges.</summary>
    private static readonly (int M, bool Clip)[] SearchVariants = [(1, false), (1, true), (2, false), (2, true), (3, true)];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void PairsAtExactlyTheCutoffWithRandomOffsetsAreAllFound(int d)
    {
        // Pairs (a, a + r e_0) with dyadic a, r: the distance is exactly r and the pairs straddle
        // cell boundaries at every possible fractional position; a search that reaches one cell
        // too few (or rounds the cell assignment carelessly) misses some of them.
        var rng = new Random(53 + d);
        const int pairs = 2000;
        const double r = 0.375;
        var x = new double[2 * pairs * d];
        for (int t = 0; t < pairs; t++)
        {
            for (int k = 0; k < d; k++) x[2 * t * d + k] = x[(2 * t + 1) * d + k] = rng.Next(0, 1 << 20) / 4096.0;
            x[(2 * t + 1) * d] += r;
        }
        using var pos = Tensor(x, d);
        var expected = Radius(x, d, [0, 2 * pairs], r);
        Assert.True(expected.Count >= 2 * pairs);
        foreach (var (m, clip) in SearchVariants)
        {
            RadiusGraph.CellsPerCutoff = m;
            RadiusGraph.ClipRowsPerTarget = clip;
            try
            {
                using var result = RadiusGraph.Build(pos, r);
                AssertSameEdges(expected, result.EdgeIndex);
            }
            finally { RadiusGraph.CellsPerCutoff = 1; RadiusGraph.ClipRowsPerTarget = false; }
        }
    }

    [Fact]
    public void DegreesFromZeroToHundredsAreAllSortedCorrectly()
    {
        // A density gradient (points concentrated towards the origin) gives per-target lists of
        // every length, exercising each branch of the small-list sort (≤ 8, ≤ 16, ≤ 32, ≤ 64, more).
        var rng = new Random(59);
        int n = 1500;
        var x = new double[n * 3];
        for (int t = 0; t < x.Length; t++) x[t] = Math.Pow(rng.NextDouble(), 3);
        using var pos = Tensor(x, 3);
        using var result = RadiusGraph.Build(pos, 0.08);
        var expected = Radius(x, 3, [0, n], 0.08);
        AssertSameEdges(expected, result.EdgeIndex);
        var degree = expected.GroupBy(e => e.I).Select(g => g.Count()).ToList();
        Assert.Contains(degree, c => c > 64);
        Assert.Contains(degree, c => c is > 16 and <= 32);
        Assert.Contains(degree, c => c is > 32 and <= 64);
        Assert.Contains(degree, c => c is > 0 and <= 8);
    }

    [Fact]
    public void Float32InputUsesTheExactFloat64DistanceOfTheRoundedCoordinates()
    {
        var rng = new Random(7);
        var x = AsFloat32(Uniform(rng, 600, 3, 10.0));
        using var pos = Tensor(x, 3, ScalarType.Float32);
        using var result = RadiusGraph.Build(pos, 1.3);
        AssertSameEdges(Radius(x, 3, [0, 600], 1.3), result.EdgeIndex);
    }

    [Fact]
    public void PointsExactlyAtTheCutoffAreConnected()
    {
        // Distances 0.75 (exactly representable) with r = 0.75; one point just beyond.
        double[] x = [0, 0, 0, 0.75, 0, 0, 0, 0.75, 0, 0, 0, Math.BitIncrement(0.75) + 0.75];
        using var pos = Tensor(x, 3);
        using var result = RadiusGraph.Build(pos, 0.75);
        var edges = Edges(result.EdgeIndex);
        Assert.Equal(new List<(long, long)> { (1, 0), (2, 0), (0, 1), (0, 2) }, edges);
    }

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(2, 0.5)]
    [InlineData(3, 0.5)]
    [InlineData(3, 0.25)]
    public void GridWithSpacingEqualToTheCutoffHasExactlyTheAxisNeighbours(int d, double r)
    {
        // Points on a lattice of spacing r: every point lies on a cell boundary and its axis
        // neighbours are exactly at the cutoff; diagonal ones are beyond it.
        int side = d == 1 ? 40 : d == 2 ? 12 : 7;
        int n = (int)Math.Pow(side, d);
        var x = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            int rest = i;
            for (int k = 0; k < d; k++) { x[i * d + k] = (rest % side) * r; rest /= side; }
        }
        using var pos = Tensor(x, d);
        using var result = RadiusGraph.Build(pos, r);
        AssertSameEdges(Radius(x, d, [0, n], r), result.EdgeIndex);
        // Each of the d axes contributes 2(side − 1) side^(d−1) directed edges.
        long expected = (long)d * 2 * (side - 1) * (long)Math.Pow(side, d - 1);
        Assert.Equal(expected, result.NumEdges);
    }

    [Fact]
    public void HalfCellLatticeAndDiagonalsAtTheCutoff()
    {
        // Lattice of spacing r/2 (the cell side for CellsPerCutoff = 2, so every point is on a cell
        // boundary) with r = 1: the pairs at distance exactly r along axes are included.
        int side = 9, d = 3, n = side * side * side;
        var x = new double[n * d];
        for (int i = 0; i < n; i++) { x[3 * i] = (i % side) * 0.5; x[3 * i + 1] = (i / side % side) * 0.5; x[3 * i + 2] = (i / side / side) * 0.5; }
        using var pos = Tensor(x, d);
        using var result = RadiusGraph.Build(pos, 1.0);
        AssertSameEdges(Radius(x, d, [0, n], 1.0), result.EdgeIndex);
    }

    [Fact]
    public void ClusteredCloudWithOutliersMatchesBruteForce()
    {
        var rng = new Random(3);
        var pts = new List<double>();
        for (int c = 0; c < 5; c++)
        {
            double cx = rng.NextDouble() * 1000, cy = rng.NextDouble() * 1000, cz = rng.NextDouble() * 1000;
            for (int i = 0; i < 120; i++)
                pts.AddRange([cx + rng.NextDouble() * 0.8, cy + rng.NextDouble() * 0.8, cz + rng.NextDouble() * 0.8]);
        }
        for (int i = 0; i < 30; i++) pts.AddRange([rng.NextDouble() * 1e4, rng.NextDouble(), -rng.NextDouble() * 1e4]);
        // Duplicated points (distance 0).
        pts.AddRange(pts.Take(9));
        var x = pts.ToArray();
        int n = x.Length / 3;
        using var pos = Tensor(x, 3);
        foreach (double r in new[] { 1e-9, 0.05, 0.3, 2.0 })
        {
            using var result = RadiusGraph.Build(pos, r);
            AssertSameEdges(Radius(x, 3, [0, n], r), result.EdgeIndex);
        }
    }

    [Fact]
    public void CutoffLargerThanTheCloudGivesTheFullyConnectedGraph()
    {
        var rng = new Random(5);
        var x = Uniform(rng, 60, 3);
        using var pos = Tensor(x, 3);
        using var result = RadiusGraph.Build(pos, 100.0);
        using var full = FullyConnectedGraph.Build(60);
        Assert.Equal(Edges(full), Edges(result.EdgeIndex));
        using var withSelf = RadiusGraph.Build(pos, 1e300, selfLoops: true);
        using var fullSelf = FullyConnectedGraph.Build(60, selfLoops: true);
        Assert.Equal(Edges(fullSelf), Edges(withSelf.EdgeIndex));
    }

    [Fact]
    public void TinyCutoffGivesNoEdgesAndUsesTheSparseGrid()
    {
        var rng = new Random(11);
        var x = Uniform(rng, 2000, 3);
        using var pos = Tensor(x, 3);
        using var none = RadiusGraph.Build(pos, 1e-12);
        Assert.Equal(0, none.NumEdges);
        Assert.Equal([2, 0], none.EdgeIndex.shape);
        // Cutoff giving a grid of ~10^7 cells for 2000 points (sparse path) with some edges.
        using var few = RadiusGraph.Build(pos, 0.02);
        AssertSameEdges(Radius(x, 3, [0, 2000], 0.02), few.EdgeIndex);
        Assert.True(few.NumEdges > 0);
    }

    [Fact]
    public void HugeCoordinateRangeWithSmallCutoffStaysCorrect()
    {
        // Extent / cutoff ≈ 10^12: cells are coarsened to keep the grid addressable.
        var rng = new Random(13);
        var x = new double[300 * 3];
        for (int i = 0; i < 300; i++)
        {
            double bx = i % 2 == 0 ? 0 : 1e6;
            x[3 * i] = bx + rng.NextDouble() * 1e-5;
            x[3 * i + 1] = rng.NextDouble() * 1e-5;
            x[3 * i + 2] = rng.NextDouble() * 1e-5;
        }
        using var pos = Tensor(x, 3);
        using var result = RadiusGraph.Build(pos, 3e-6);
        AssertSameEdges(Radius(x, 3, [0, 300], 3e-6), result.EdgeIndex);
    }

    [Fact]
    public void EmptyAndSingleNodeGraphs()
    {
        using var empty = torch.zeros(0, 3, dtype: ScalarType.Float64);
        using var r0 = RadiusGraph.Build(empty, 1.0);
        Assert.Equal([2, 0], r0.EdgeIndex.shape);
        using var r0s = RadiusGraph.Build(empty, 1.0, selfLoops: true, computeGeometry: true);
        Assert.Equal([0, 3], r0s.Vectors!.shape);
        using var one = torch.zeros(1, 2, dtype: ScalarType.Float64);
        using var r1 = RadiusGraph.Build(one, 1.0);
        Assert.Equal(0, r1.NumEdges);
        using var r1s = RadiusGraph.Build(one, 1.0, selfLoops: true);
        Assert.Equal(new List<(long, long)> { (0, 0) }, Edges(r1s.EdgeIndex));
    }

    [Fact]
    public void SelfLoopsAreAddedInSourceOrder()
    {
        var rng = new Random(17);
        var x = Uniform(rng, 300, 3);
        using var pos = Tensor(x, 3);
        using var result = RadiusGraph.Build(pos, 0.2, selfLoops: true);
        AssertSameEdges(Radius(x, 3, [0, 300], 0.2, self: true), result.EdgeIndex);
    }

    [Fact]
    public void BatchesNeverConnectGraphsAndEqualPerGraphResultsOffset()
    {
        var rng = new Random(19);
        int[] counts = [40, 0, 1, 75, 33, 2];
        int n = counts.Sum();
        // All graphs overlap in space, so any cross-graph edge would be found.
        var x = Uniform(rng, n, 3);
        var ptr = PtrFromCounts(counts);
        using var pos = Tensor(x, 3);
        // Graph indices with gaps (empty graphs) are fine: 0, 2, 3, 5, 6 (graph "1" is empty).
        var batchValues = new List<long>();
        int[] ids = [0, 1, 2, 3, 5, 6];
        for (int g = 0; g < counts.Length; g++) for (int t = 0; t < counts[g]; t++) batchValues.Add(ids[g]);
        using var batch = torch.tensor(batchValues.ToArray());
        using var result = RadiusGraph.Build(pos, 0.35, batch);
        var expected = Radius(x, 3, ptr, 0.35);
        AssertSameEdges(expected, result.EdgeIndex);

        // Each graph alone, offset by its first node, concatenated.
        var concatenated = new List<(long, long)>();
        for (int g = 0; g < counts.Length; g++)
        {
            if (counts[g] == 0) continue;
            using var part = pos.narrow(0, ptr[g], counts[g]);
            using var single = RadiusGraph.Build(part, 0.35);
            concatenated.AddRange(Edges(single.EdgeIndex).Select(e => (e.J + ptr[g], e.I + ptr[g])));
        }
        Assert.Equal(concatenated, Edges(result.EdgeIndex));
    }

    [Fact]
    public void GraphBatchOverloadEqualsTheBatchVectorOverload()
    {
        var rng = new Random(23);
        var graphs = new List<GeometricGraph>();
        for (int g = 0; g < 4; g++)
        {
            int n = 10 + 7 * g;
            graphs.Add(new GeometricGraph { Positions = Tensor(Uniform(rng, n, 3), 3), EdgeIndex = torch.empty(2, 0, dtype: ScalarType.Int64) });
        }
        using var gb = GraphBatch.FromGraphs(graphs);
        using var a = RadiusGraph.Build(gb, 0.5);
        using var b = RadiusGraph.Build(gb.Positions, 0.5, gb.Batch);
        Assert.Equal(Edges(b.EdgeIndex), Edges(a.EdgeIndex));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(12)]
    public void CapKeepsTheNearestAndReportsTheDroppedEdges(int cap)
    {
        var rng = new Random(29 + cap);
        // Integer lattice plus jitter-free duplicates gives many equal distances (ties by index).
        var x = new double[400 * 3];
        for (int t = 0; t < x.Length; t++) x[t] = rng.Next(0, 8);
        int n = 400;
        using var pos = Tensor(x, 3);
        using var result = RadiusGraph.Build(pos, 2.0, maxNeighbours: cap, selfLoops: cap == 5);
        var uncapped = Radius(x, 3, [0, n], 2.0);
        var expected = Radius(x, 3, [0, n], 2.0, self: cap == 5, cap: cap);
        AssertSameEdges(expected, result.EdgeIndex);
        var degree = new int[n];
        foreach (var e in uncapped) degree[e.I]++;
        long dropped = degree.Sum(c => (long)Math.Max(0, c - cap));
        long truncated = degree.Count(c => c > cap);
        Assert.True(dropped > 0);
        Assert.Equal(dropped, result.DroppedEdges);
        Assert.Equal(truncated, result.TruncatedNodes);
    }

    [Fact]
    public void CapAboveEveryDegreeDropsNothing()
    {
        var x = Uniform(new Random(31), 300, 3);
        using var pos = Tensor(x, 3);
        using var result = RadiusGraph.Build(pos, 0.2, maxNeighbours: 1000);
        Assert.Equal(0, result.DroppedEdges);
        Assert.Equal(0, result.TruncatedNodes);
        AssertSameEdges(Radius(x, 3, [0, 300], 0.2), result.EdgeIndex);
    }

    [Fact]
    public void ThreadedSearchOfALargeCloudEqualsTheSingleThreadedOne()
    {
        // Above the parallel threshold (20,000 points).
        var x = Uniform(new Random(37), 25_000, 3);
        using var pos = Tensor(x, 3, ScalarType.Float32);
        int saved = RadiusGraph.MaxThreads;
        try
        {
            RadiusGraph.MaxThreads = 1;
            using var one = RadiusGraph.Build(pos, 0.05, maxNeighbours: 8);
            RadiusGraph.MaxThreads = 4;
            using var four = RadiusGraph.Build(pos, 0.05, maxNeighbours: 8);
            Assert.Equal(Edges(four.EdgeIndex), Edges(one.EdgeIndex));
            Assert.Equal(one.DroppedEdges, four.DroppedEdges);
            Assert.True(one.NumEdges > 100_000);
        }
        finally { RadiusGraph.MaxThreads = saved; }
    }

    [Fact]
    public void GeometryIsRelativeVectorSourceMinusTargetAndDifferentiable()
    {
        var x = Uniform(new Random(41), 50, 3);
        using var pos = Tensor(x, 3).requires_grad_(true);
        using var result = RadiusGraph.Build(pos, 0.4, computeGeometry: true);
        var edges = Edges(result.EdgeIndex);
        var v = result.Vectors!.detach().data<double>().ToArray();
        var dist = result.Distances!.detach().data<double>().ToArray();
        for (int e = 0; e < edges.Count; e++)
        {
            var (j, i) = edges[e];
            for (int k = 0; k < 3; k++) Assert.Equal(x[j * 3 + k] - x[i * 3 + k], v[e * 3 + k], 15);
            Assert.Equal(Math.Sqrt(Dist2(x, 3, (int)i, (int)j)), dist[e], 14);
            Assert.True(dist[e] <= 0.4);
        }
        result.Distances!.sum().backward();
        Assert.NotNull(pos.grad);
        Assert.True(pos.grad!.abs().sum().item<double>() > 0);
    }

    [Fact]
    public void PermutingThePointsPermutesTheEdges()
    {
        var rng = new Random(43);
        int n = 400;
        var x = Uniform(rng, n, 3);
        var perm = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();  // new index t holds old point perm[t]
        var inv = new int[n];
        for (int t = 0; t < n; t++) inv[perm[t]] = t;
        var y = new double[n * 3];
        for (int t = 0; t < n; t++) for (int k = 0; k < 3; k++) y[t * 3 + k] = x[perm[t] * 3 + k];
        using var px = Tensor(x, 3);
        using var py = Tensor(y, 3);
        using var a = RadiusGraph.Build(px, 0.2);
        using var b = RadiusGraph.Build(py, 0.2);
        var mapped = Edges(b.EdgeIndex).Select(e => ((long)perm[e.J], (long)perm[e.I])).OrderBy(e => e.Item2).ThenBy(e => e.Item1).ToList();
        Assert.Equal(Edges(a.EdgeIndex), mapped);
    }

    [Property(MaxTest = 40)]
    public Property RadiusGraphsAreSymmetricAndMatchBruteForce(PositiveInt seed, byte size, byte dim)
    {
        int n = size % 90, d = dim % 3 + 1;
        var rng = new Random(seed.Get);
        var x = Uniform(rng, n, d, 2.0);
        double r = 0.05 + rng.NextDouble() * 0.6;
        using var pos = Tensor(x, d);
        using var result = RadiusGraph.Build(pos, r);
        var edges = Edges(result.EdgeIndex);
        var set = edges.ToHashSet();
        bool symmetric = edges.All(e => set.Contains((e.I, e.J)));
        bool exact = edges.SequenceEqual(Radius(x, d, [0, n], r));
        return (symmetric && exact).Label($"n={n} d={d} r={r}");
    }

    [Fact]
    public void NonFinitePositionNamesThePoint()
    {
        var x = Uniform(new Random(47), 10, 3);
        x[7 * 3 + 1] = double.NaN;
        using var pos = Tensor(x, 3);
        var ex = Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(pos, 0.5));
        Assert.Contains("point 7", ex.Message);
        Assert.Contains("positions[7, 1]", ex.Message);
        x[7 * 3 + 1] = 0;
        x[2 * 3] = double.PositiveInfinity;
        using var pos2 = Tensor(x, 3, ScalarType.Float32);
        ex = Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(pos2, 0.5));
        Assert.Contains("point 2", ex.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void BadCutoffIsRejected(double cutoff)
    {
        using var pos = torch.zeros(4, 3);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => RadiusGraph.Build(pos, cutoff));
        Assert.Equal("cutoff", ex.ParamName);
    }

    [Fact]
    public void BadShapesDtypesAndBatchesAreRejectedClearly()
    {
        using var pos = torch.zeros(5, 3);
        Assert.Contains("[N, d]", Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(torch.zeros(5), 1.0)).Message);
        Assert.Contains("floating point", Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(torch.zeros(5, 3, dtype: ScalarType.Int64), 1.0)).Message);
        Assert.Contains("batch must have shape [N = 5]", Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(pos, 1.0, torch.zeros(4, dtype: ScalarType.Int64))).Message);
        Assert.Contains("int64", Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(pos, 1.0, torch.zeros(5, dtype: ScalarType.Int32))).Message);
        var unsorted = Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(pos, 1.0, torch.tensor(new long[] { 0, 0, 1, 0, 1 })));
        Assert.Contains("batch[3] = 0 < batch[2] = 1", unsorted.Message);
        Assert.Contains("non-negative", Assert.Throws<GraphValidationException>(() => RadiusGraph.Build(pos, 1.0, torch.tensor(new long[] { -1, 0, 0, 0, 0 }))).Message);
        Assert.Equal("maxNeighbours", Assert.Throws<ArgumentOutOfRangeException>(() => RadiusGraph.Build(pos, 1.0, maxNeighbours: -1)).ParamName);
    }
}
