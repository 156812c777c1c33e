using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Datasets.NBody;

public sealed class NBodyDatasetTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("equisharp-nbody-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // Short trajectories keep the tests fast: 4101 steps record frames 0..40 (the task needs 30 and 40).
    private static readonly NBodySimulationOptions Short = new(Steps: 4101);

    [Fact]
    public void SplitsArePrefixStableAndDistinct()
    {
        var small = NBodyDataset.Generate(7, new NBodySplitSizes(3, 2, 2), Short);
        var large = NBodyDataset.Generate(7, new NBodySplitSizes(5, 3, 4), Short);
        Assert.Equal(41, small.Options.Frames);
        Assert.Equal(small.Train.Positions, large.Train.Positions.Take(small.Train.Positions.Length));
        Assert.Equal(small.Test.Positions, large.Test.Positions.Take(small.Test.Positions.Length));
        Assert.NotEqual(small.Train.Positions.Take(100), small.Valid.Positions.Take(100));
        Assert.NotEqual(small.Valid.Positions.Take(100), small.Test.Positions.Take(100));
    }

    [Fact]
    public void SaveLoadRoundTripIsExact()
    {
        var data = NBodyDataset.Generate(3, new NBodySplitSizes(4, 2, 3), Short);
        var path = Path.Combine(dir, "nbody.npz");
        data.Save(path);
        var back = NBodyDataset.Load(path);
        Assert.Equal(data.Options, back.Options);
        Assert.Equal(3, back.Seed);
        foreach (var split in Enum.GetValues<NBodySplit>())
        {
            Assert.Equal(data[split].Count, back[split].Count);
            Assert.Equal(data[split].Positions, back[split].Positions);
            Assert.Equal(data[split].Velocities, back[split].Velocities);
            Assert.Equal(data[split].Charges, back[split].Charges);
        }
        // The keys a Python user reads.
        var npz = Npz.Load(path);
        Assert.Equal(new long[] { 4, 41, 5, 3 }, npz["train_positions"].Shape);
        Assert.Equal(new long[] { 3, 5 }, npz["test_charges"].Shape);
        Assert.Equal(0.001, npz["dt"].As<double>()[0]);
    }

    [Fact]
    public void LoadValidatesKeysShapesAndValues()
    {
        var data = NBodyDataset.Generate(3, new NBodySplitSizes(2, 1, 1), Short);
        var path = Path.Combine(dir, "ok.npz");
        data.Save(path);
        var arrays = Npz.Load(path).ToList();

        string Broken(string name, Func<KeyValuePair<string, NpyArray>, KeyValuePair<string, NpyArray>?> edit)
        {
            var p = Path.Combine(dir, name);
            Npz.Save(p, arrays.Select(edit).Where(kv => kv is not null).Select(kv => kv!.Value));
            return Assert.Throws<NpyFormatException>(() => NBodyDataset.Load(p)).Message;
        }

        var m = Broken("missing.npz", kv => kv.Key == "valid_velocities" ? null : kv);
        Assert.Contains("missing key 'valid_velocities'", m);
        Assert.Contains("missing.npz", m);
        m = Broken("shape.npz", kv => kv.Key == "test_charges" ? new(kv.Key, NpyArray.Of(new double[6], 1, 6)) : kv);
        Assert.Contains("key 'test_charges' has shape (1, 6), expected (1, 5)", m);
        m = Broken("dtype.npz", kv => kv.Key == "train_positions" ? new(kv.Key, NpyArray.Of(Array.ConvertAll(kv.Value.As<double>(), v => (float)v), kv.Value.Shape)) : kv);
        Assert.Contains("key 'train_positions' has dtype '<f4', expected '<f8'", m);
        m = Broken("charge.npz", kv => kv.Key == "train_charges" ? new(kv.Key, NpyArray.Of(Enumerable.Repeat(0.5, 10).ToArray(), 2, 5)) : kv);
        Assert.Contains("key 'train_charges' element 0", m);
        m = Broken("nan.npz", kv =>
        {
            if (kv.Key != "valid_positions") return kv;
            var v = kv.Value.As<double>().ToArray();
            v[17] = double.NaN;
            return new(kv.Key, NpyArray.Of(v, kv.Value.Shape));
        });
        Assert.Contains("key 'valid_positions' element 17 is NaN", m);
        m = Broken("frames.npz", kv => kv.Key == "steps" ? new(kv.Key, NpyArray.Scalar(5000L)) : kv);
        Assert.Contains("key 'train_positions' has shape (2, 41, 5, 3), expected (*, 49, 5, 3)", m);
        m = Broken("version.npz", kv => kv.Key == "format_version" ? new(kv.Key, NpyArray.Scalar(99L)) : kv);
        Assert.Contains("'format_version' is 99", m);
    }

    [Fact]
    public void GraphsHaveTheDocumentedContent()
    {
        var data = NBodyDataset.Generate(5, new NBodySplitSizes(3, 1, 1), Short);
        var graphs = data.ToGraphs(NBodySplit.Train, dtype: ScalarType.Float64);
        Assert.Equal(3, graphs.Count);
        var g = graphs[1];
        g.Validate();
        var t = data.Train;
        Assert.Equal(new long[] { 5, 3 }, g.Positions.shape);
        Assert.Equal(new long[] { 5, 1, 3 }, g.NodeVectors!.shape);
        Assert.Equal(new long[] { 5, 1 }, g.NodeFeatures!.shape);
        Assert.Equal(new long[] { 2, 20 }, g.EdgeIndex.shape);
        Assert.Equal(new long[] { 20, 1 }, g.EdgeAttributes!.shape);
        Assert.Equal(new long[] { 5, 3 }, g.NodeTarget!.shape);
        for (int p = 0; p < 5; p++)
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(t.Positions[t.Offset(1, 30, p) + c], g.Positions[p, c].item<double>());
                Assert.Equal(t.Velocities[t.Offset(1, 30, p) + c], g.NodeVectors[p, 0, c].item<double>());
                Assert.Equal(t.Positions[t.Offset(1, 40, p) + c], g.NodeTarget[p, c].item<double>());
            }
        var ei = g.EdgeIndex.data<long>().ToArray();
        var pairs = Enumerable.Range(0, 20).Select(e => (Src: ei[e], Dst: ei[20 + e])).ToArray();
        Assert.All(pairs, e => Assert.NotEqual(e.Src, e.Dst));
        Assert.Equal(20, pairs.Distinct().Count());
        var attr = g.EdgeAttributes.data<double>().ToArray();
        for (int e = 0; e < 20; e++)
            Assert.Equal(t.Charges[5 + pairs[e].Src] * t.Charges[5 + pairs[e].Dst], attr[e]);
        Assert.Equal(ScalarType.Float32, data.ToGraphs(NBodySplit.Test)[0].Positions.dtype);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.ToGraphs(NBodySplit.Train, 30, 41));
    }

    [Fact]
    public void CreateBatchEqualsBatchingTheGraphs()
    {
        var data = NBodyDataset.Generate(5, new NBodySplitSizes(6, 1, 1), Short);
        var graphs = data.ToGraphs(NBodySplit.Train);
        int[] order = { 4, 0, 5 };
        using var expected = GraphBatch.FromGraphs(order.Select(k => graphs[k]).ToList());
        using var actual = data.CreateBatch(NBodySplit.Train, order);
        actual.Validate();
        foreach (var (a, b) in new[]
                 {
                     (expected.Positions, actual.Positions), (expected.NodeVectors!, actual.NodeVectors!), (expected.NodeFeatures!, actual.NodeFeatures!),
                     (expected.EdgeIndex, actual.EdgeIndex), (expected.EdgeAttributes!, actual.EdgeAttributes!), (expected.NodeTarget!, actual.NodeTarget!),
                     (expected.Batch, actual.Batch), (expected.Ptr, actual.Ptr), (expected.EdgePtr, actual.EdgePtr),
                 })
        {
            Assert.Equal(a.dtype, b.dtype);
            Assert.Equal(a.shape, b.shape);
            Assert.True(a.equal(b).all().item<bool>());
        }
        Assert.Equal(expected.NodeCounts, actual.NodeCounts);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.CreateBatch(NBodySplit.Train, new[] { 6 }));
    }
}
