using BenchmarkDotNet.Attributes;
using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// One N-body model, float32: a training step (forward + MSE + backward + Adam) and the forward pass
/// alone, on a prebuilt batch of 100 systems (500 nodes, 2000 edges) simulated with seed 43.
/// Subclasses give the model, its optimiser settings and the thread counts.
/// </summary>
[MemoryDiagnoser]
public abstract class NBodyStepBenchmarks
{
    private const int BatchSize = 100;
    private GraphBatch batch = null!;
    private nn.Module<GraphBatch, Tensor> model = null!;
    private torch.optim.Optimizer optimizer = null!;

    /// <summary>libtorch intra-op threads.</summary>
    public abstract int Threads { get; set; }

    /// <summary>A freshly initialised model (after <c>manual_seed(0)</c>).</summary>
    protected abstract nn.Module<GraphBatch, Tensor> CreateModel();

    /// <summary>The model's reference Adam learning rate and weight decay.</summary>
    protected abstract (double LearningRate, double WeightDecay) Adam { get; }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(Threads);
        torch.manual_seed(0);
        var data = NBodyDataset.Generate(43, new NBodySplitSizes(BatchSize, 0, 0));
        batch = data.CreateBatch(NBodySplit.Train, Enumerable.Range(0, BatchSize).ToArray());
        model = CreateModel();
        optimizer = new EquiSharp.Training.FusedOptimizers.Adam(model.parameters(), lr: Adam.LearningRate, weight_decay: Adam.WeightDecay);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        batch.Dispose();
        model.Dispose();
    }

    /// <summary>One training step on the prebuilt batch of 100 systems.</summary>
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
