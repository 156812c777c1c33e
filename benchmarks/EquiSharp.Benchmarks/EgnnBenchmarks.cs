using BenchmarkDotNet.Attributes;
using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// EGNN on the N-body task, float32, paper configuration (4 layers, hidden 64): one training step
/// (forward + MSE + backward + Adam) on a batch of 100 systems, one epoch over 3000 systems with
/// prebuilt batches, the split of a step into forward+backward and the Adam update, the same epoch building each batch from the arrays (<see cref="NBodyDataset.CreateBatch"/>)
/// or from per-system graphs (<see cref="GraphBatch.FromGraphs"/>), and the forward pass alone.
/// Reference: the official PyTorch EGNN takes about 18.5 ms per step and 605 ms per epoch on 2 cores.
/// </summary>
[MemoryDiagnoser]
public class EgnnBenchmarks
{
    private const int Systems = 3000, BatchSize = 100;
    private NBodyDataset data = null!;
    private List<GeometricGraph> graphs = null!;
    private GraphBatch[] batches = null!;
    private NBodyEgnn model = null!;
    private torch.optim.Optimizer optimizer = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(Threads);
        torch.manual_seed(0);
        data = NBodyDataset.Generate(43, new NBodySplitSizes(Systems, 0, 0));
        graphs = data.ToGraphs(NBodySplit.Train);
        batches = Enumerable.Range(0, Systems / BatchSize)
            .Select(b => data.CreateBatch(NBodySplit.Train, Enumerable.Range(b * BatchSize, BatchSize).ToArray()))
            .ToArray();
        model = new NBodyEgnn { ValidateEdges = false };
        optimizer = new EquiSharp.Training.FusedOptimizers.Adam(model.parameters(), lr: 5e-4, weight_decay: 1e-12);
        Step(batches[0]); // leaves gradients in place for AdamStep
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var b in batches) b.Dispose();
        model.Dispose();
    }

    private void Step(GraphBatch batch)
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.mse_loss(model.forward(batch), batch.NodeTarget!);
        loss.backward();
        optimizer.step();
    }

    /// <summary>One training step on a prebuilt batch of 100 systems.</summary>
    [Benchmark]
    public void TrainStep() => Step(batches[0]);

    /// <summary>Forward pass only (no gradient) on 100 systems.</summary>
    [Benchmark]
    public void Forward()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.forward(batches[0]);
    }

    /// <summary>Forward + MSE + backward on 100 systems, no optimizer step (TrainStep minus this is the Adam cost).</summary>
    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        model.zero_grad();
        nn.functional.mse_loss(model.forward(batches[0]), batches[0].NodeTarget!).backward();
    }

    /// <summary>The Adam update alone over the model's parameter tensors (gradients left from setup).</summary>
    [Benchmark]
    public void AdamStep()
    {
        using var scope = torch.NewDisposeScope();
        optimizer.step();
    }

    /// <summary>One epoch: 30 steps over prebuilt batches.</summary>
    [Benchmark]
    public void EpochPrebuilt()
    {
        foreach (var b in batches) Step(b);
    }

    /// <summary>One epoch with a shuffled order, each batch built from the arrays.</summary>
    [Benchmark]
    public void EpochCreateBatch()
    {
        var order = Enumerable.Range(0, Systems).OrderBy(k => (k * 7919) % Systems).ToArray();
        for (int b = 0; b < Systems / BatchSize; b++)
        {
            using var batch = data.CreateBatch(NBodySplit.Train, order.AsSpan(b * BatchSize, BatchSize).ToArray());
            Step(batch);
        }
    }

    /// <summary>One epoch with each batch concatenated from per-system graphs (the generic data loader route).</summary>
    [Benchmark]
    public void EpochFromGraphs()
    {
        for (int b = 0; b < Systems / BatchSize; b++)
        {
            using var batch = GraphBatch.FromGraphs(graphs.GetRange(b * BatchSize, BatchSize), validate: false);
            Step(batch);
        }
    }
}
