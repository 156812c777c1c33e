using BenchmarkDotNet.Attributes;
using EquiSharp.Neighbourhoods;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// Neighbour-list construction. The 100k case (uniform points in the unit cube, cutoff giving a
/// mean of ~32 neighbours away from the faces) is the reference against scipy's cKDTree build +
/// query_pairs (~155 ms on the project machine).
/// </summary>
[MemoryDiagnoser, MinColumn, MaxColumn]
public class RadiusGraphBenchmarks
{
    private Tensor _cloud = null!;
    private Tensor _molecules = null!, _moleculesBatch = null!;
    private Tensor _tinyBatch = null!;

    /// <summary>Mean degree 32 in the bulk: 32 = N · (4/3)π r³ for N points in the unit cube.</summary>
    public static readonly double Cutoff100k = Math.Cbrt(32 * 3 / (4 * Math.PI * 100_000));

    /// <summary>Threads used by one search (RadiusGraph/KnnGraph.MaxThreads).</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(TorchRuntime.DefaultThreads);
        torch.manual_seed(0);
        _cloud = torch.rand(100_000, 3, dtype: ScalarType.Float32);
        // 100 "molecules" of 40 atoms in a 4 Å box with a 2 Å cutoff.
        _molecules = torch.rand(100 * 40, 3, dtype: ScalarType.Float32) * 4;
        _moleculesBatch = torch.arange(100, dtype: ScalarType.Int64).repeat_interleave(40);
        _tinyBatch = torch.arange(100, dtype: ScalarType.Int64).repeat_interleave(5);
        RadiusGraph.MaxThreads = KnnGraph.MaxThreads = Threads;
    }

    [Benchmark(Description = "radius 100k pts, ~32 nbrs, float32")]
    public long Radius100k()
    {
        using var r = RadiusGraph.Build(_cloud, Cutoff100k);
        return r.NumEdges;
    }

    [Benchmark(Description = "radius 100 graphs x 40 pts, r=2")]
    public long RadiusBatch()
    {
        using var r = RadiusGraph.Build(_molecules, 2.0, _moleculesBatch);
        return r.NumEdges;
    }

    [Benchmark(Description = "knn 100k pts, k=16")]
    public long Knn100k()
    {
        using var r = KnnGraph.Build(_cloud, 16);
        return r.NumEdges;
    }

    [Benchmark(Description = "knn 100 graphs x 40 pts, k=16")]
    public long KnnBatch()
    {
        using var r = KnnGraph.Build(_molecules, 16, _moleculesBatch);
        return r.NumEdges;
    }

    [Benchmark(Description = "fully connected 100 graphs x 5")]
    public long FullyConnected100x5()
    {
        using var e = FullyConnectedGraph.Build(_tinyBatch);
        return e.shape[1];
    }
}
