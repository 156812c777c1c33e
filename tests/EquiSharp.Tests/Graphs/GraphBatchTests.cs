using EquiSharp.Graphs;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Graphs;

public class GraphBatchTests
{
    internal static GeometricGraph RandomGraph(int nodes, int edges, long seed, bool withTargets = true)
    {
        var gen = new torch.Generator((ulong)seed);
        return new GeometricGraph
        {
            Positions = torch.randn(new long[] { nodes, 3 }, dtype: ScalarType.Float64, generator: gen),
            EdgeIndex = edges == 0 ? torch.zeros(new long[] { 2, 0 }, dtype: ScalarType.Int64)
                : torch.randint(0, nodes, new long[] { 2, edges }, dtype: ScalarType.Int64, generator: gen),
            NodeFeatures = torch.randn(new long[] { nodes, 4 }, dtype: ScalarType.Float64, generator: gen),
            NodeVectors = torch.randn(new long[] { nodes, 1, 3 }, dtype: ScalarType.Float64, generator: gen),
            EdgeAttributes = torch.randn(new long[] { edges, 2 }, dtype: ScalarType.Float64, generator: gen),
            GraphTarget = withTargets ? torch.randn(new long[] { 2 }, dtype: ScalarType.Float64, generator: gen) : null,
            NodeTarget = withTargets ? torch.randn(new long[] { nodes, 3 }, dtype: ScalarType.Float64, generator: gen) : null,
        };
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    [Fact]
    public void BatchOffsetsEdgesAndSplitsBackExactly()
    {
        var graphs = new[] { RandomGraph(3, 4, 1), RandomGraph(5, 0, 2), RandomGraph(1, 1, 3), RandomGraph(4, 7, 4) };
        using var batch = GraphBatch.FromGraphs(graphs);
        Assert.Equal(13, batch.NumNodes);
        Assert.Equal(12, batch.NumEdges);
        Assert.Equal(new long[] { 0, 3, 8, 9, 13 }, batch.Ptr.data<long>().ToArray());
        Assert.Equal(new long[] { 0, 4, 4, 5, 12 }, batch.EdgePtr.data<long>().ToArray());
        Assert.Equal(new long[] { 0, 0, 0, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3 }, batch.Batch.data<long>().ToArray());
        Assert.Equal(new long[] { 4, 2 }, batch.GraphTarget!.shape);
        // Edges of graph 3 are offset by 9 nodes.
        Assert.True(Same(batch.EdgeIndex.narrow(1, 5, 7), graphs[3].EdgeIndex + 9));
        batch.Validate();

        var split = batch.Split();
        for (int g = 0; g < graphs.Length; g++)
        {
            Assert.True(Same(split[g].Positions, graphs[g].Positions));
            Assert.True(Same(split[g].EdgeIndex, graphs[g].EdgeIndex));
            Assert.True(Same(split[g].NodeFeatures!, graphs[g].NodeFeatures!));
            Assert.True(Same(split[g].NodeVectors!, graphs[g].NodeVectors!));
            Assert.True(Same(split[g].EdgeAttributes!, graphs[g].EdgeAttributes!));
            Assert.True(Same(split[g].GraphTarget!, graphs[g].GraphTarget!));
            Assert.True(Same(split[g].NodeTarget!, graphs[g].NodeTarget!));
        }
        var perGraph = batch.SplitNodes(batch.Positions);
        Assert.Equal(new long[] { 3, 5, 1, 4 }, perGraph.Select(t => t.shape[0]).ToArray());
    }

    [Fact]
    public void InconsistentFieldsNameTheGraphAndField()
    {
        var a = RandomGraph(3, 2, 1);
        var b = RandomGraph(3, 2, 2) with { NodeFeatures = null };
        var ex = Assert.Throws<GraphValidationException>(() => GraphBatch.FromGraphs(new[] { a, b }));
        Assert.Contains("graph 1", ex.Message);
        Assert.Contains("NodeFeatures", ex.Message);

        var c = RandomGraph(3, 2, 3) with { NodeFeatures = torch.zeros(3, 5, dtype: ScalarType.Float64) };
        ex = Assert.Throws<GraphValidationException>(() => GraphBatch.FromGraphs(new[] { a, c }));
        Assert.Contains("[3, 5]", ex.Message);
        Assert.Throws<GraphValidationException>(() => GraphBatch.FromGraphs(Array.Empty<GeometricGraph>()));
    }

    [Fact]
    public void ValidationReportsOutOfRangeEdgesShapesAndNonFinitePositions()
    {
        var g = RandomGraph(4, 3, 1);
        var bad = g with { EdgeIndex = torch.tensor(new long[,] { { 0, 1, 2 }, { 1, 4, 0 } }) };
        var ex = Assert.Throws<GraphValidationException>(() => bad.Validate("graph 7"));
        Assert.Contains("graph 7", ex.Message);
        Assert.Contains("EdgeIndex[1, 1]", ex.Message);
        Assert.Contains("is 4", ex.Message);

        var negative = g with { EdgeIndex = torch.tensor(new long[,] { { 0, -1, 2 }, { 1, 2, 0 } }) };
        Assert.Contains("source", Assert.Throws<GraphValidationException>(() => negative.Validate()).Message);

        var pos = g.Positions.clone();
        pos[2, 1] = double.NaN;
        ex = Assert.Throws<GraphValidationException>(() => (g with { Positions = pos }).Validate());
        Assert.Contains("Positions[2, 1]", ex.Message);
        pos[2, 1] = double.PositiveInfinity;
        Assert.Throws<GraphValidationException>(() => GraphBatch.FromGraphs(new[] { g with { Positions = pos } }));

        ex = Assert.Throws<GraphValidationException>(() => (g with { NodeFeatures = torch.zeros(5, 4) }).Validate());
        Assert.Contains("NodeFeatures", ex.Message);
        ex = Assert.Throws<GraphValidationException>(() => (g with { EdgeAttributes = torch.zeros(2, 2) }).Validate());
        Assert.Contains("E = 3", ex.Message);
        ex = Assert.Throws<GraphValidationException>(() => (g with { NodeVectors = torch.zeros(4, 1, 2) }).Validate());
        Assert.Contains("NodeVectors", ex.Message);
        ex = Assert.Throws<GraphValidationException>(() => (g with { EdgeIndex = torch.zeros(new long[] { 2, 3 }, dtype: ScalarType.Int32) }).Validate());
        Assert.Contains("int64", ex.Message);
        ex = Assert.Throws<GraphValidationException>(() => (g with { EdgeIndex = torch.zeros(new long[] { 3, 3 }, dtype: ScalarType.Int64) }).Validate());
        Assert.Contains("[2, E]", ex.Message);
    }

    [Fact]
    public void DataLoaderYieldsBatchesCoveringEveryGraphOnce()
    {
        var graphs = Enumerable.Range(0, 10).Select(k => RandomGraph(2 + k % 3, 3, k) with
        {
            GraphTarget = torch.tensor(new double[] { k }),
        }).ToArray();
        using var loader = GraphDataLoader.Create(new GraphDataset(graphs), batchSize: 4, shuffle: true, seed: 1);
        var seen = new List<double>();
        int batches = 0;
        foreach (var batch in loader)
        {
            batches++;
            batch.Validate();
            seen.AddRange(batch.GraphTarget!.data<double>().ToArray());
        }
        Assert.Equal(3, batches);
        Assert.Equal(Enumerable.Range(0, 10).Select(k => (double)k), seen.OrderBy(v => v));
        // The dataset's graphs survive the loader's disposal of batches.
        Assert.Equal(3, graphs[0].Positions.shape[1]);
        Assert.False(graphs[0].Positions.IsInvalid);
    }
}
