using BenchmarkDotNet.Attributes;
using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// SEGNN on the N-body task, float32, paper configuration (4 layers, 64 scalar features balanced to
/// 32x0e+32x1o, attributes l ≤ 1): one training step (forward + MSE + backward + Adam) on a batch of
/// 100 systems (500 nodes, 2000 edges), and the forward pass alone. Reference: the official PyTorch
/// SEGNN takes about 110 ms per training step on this machine's 2 cores.
/// </summary>
[MemoryDiagnoser]
public class SegnnBenchmarks
{
    private const int BatchSize = 100;
    private GraphBatch batch = null!;
    private NBodySegnn model = null!;
    private torch.optim.Optimizer optimizer = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(Threads);
        torch.manual_seed(0);
        var data = NBodyDataset.Generate(43, new NBodySplitSizes(BatchSize, 0, 0));
        batch = data.CreateBatch(NBodySplit.Train, Enumerable.Range(0, BatchSize).ToArray());
        model = new NBodySegnn { ValidateEdges = false };
        optimizer = torch.optim.Adam(model.parameters(), lr: 5e-4, weight_decay: 1e-12);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        batch.Dispose();
        model.Dispose();
    }

    /// <summary>One training step on a prebuilt batch of 100 systems.</summary>
    [Benchmark]
    public void TrainStep()
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        nn.functional.mse_loss(model.forward(batch), batch.NodeTarget!).backward();
        optimizer.step();
    }

    /// <summary>Forward pass only (no gradient) on 100 systems.</summary>
    [Benchmark]
    public void Forward()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.forward(batch);
    }
}
