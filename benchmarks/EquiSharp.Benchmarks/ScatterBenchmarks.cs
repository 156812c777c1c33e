using BenchmarkDotNet.Attributes;
using EquiSharp.Aggregation;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// Scatter throughput: 1,000,000 messages of 64 float32 channels reduced onto 100,000 nodes
/// (about 10 incoming edges per node, in random order), forward and forward+backward.
/// </summary>
[MemoryDiagnoser]
public class ScatterBenchmarks
{
    private const long Edges = 1_000_000, Nodes = 100_000, Channels = 64;
    private Tensor src = null!, srcGrad = null!, index = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(Threads);
        torch.manual_seed(0);
        src = torch.randn(Edges, Channels);
        srcGrad = src.detach().clone().requires_grad_(true);
        index = torch.randint(0, Nodes, new[] { Edges }, dtype: ScalarType.Int64);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        src.Dispose();
        srcGrad.Dispose();
        index.Dispose();
    }

    [Benchmark] public void Sum() { using var s = torch.NewDisposeScope(); Scatter.Sum(src, index, Nodes); }
    [Benchmark] public void Mean() { using var s = torch.NewDisposeScope(); Scatter.Mean(src, index, Nodes); }
    [Benchmark] public void Max() { using var s = torch.NewDisposeScope(); Scatter.Max(src, index, Nodes); }
    [Benchmark] public void Softmax() { using var s = torch.NewDisposeScope(); Scatter.Softmax(src, index, Nodes); }

    [Benchmark]
    public void SumForwardBackward()
    {
        using var s = torch.NewDisposeScope();
        Scatter.Sum(srcGrad, index, Nodes).sum().backward();
        srcGrad.grad!.zero_();
    }

    [Benchmark]
    public void MaxForwardBackward()
    {
        using var s = torch.NewDisposeScope();
        Scatter.Max(srcGrad, index, Nodes).sum().backward();
        srcGrad.grad!.zero_();
    }
}
