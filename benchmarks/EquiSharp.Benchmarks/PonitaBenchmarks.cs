using BenchmarkDotNet.Attributes;
using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// PONITA on the N-body task, float32, paper configuration (16 orientations, hidden 128, 5 layers, basis 256):
/// one training step (forward + MSE + backward + Adam) and one forward pass on a batch of 100 systems, 1 thread.
/// </summary>
[MemoryDiagnoser]
public class PonitaBenchmarks
{
    private GraphBatch batch = null!;
    private NBodyPonita model = null!;
    private torch.optim.Optimizer optimizer = null!;

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(1);
        torch.manual_seed(0);
        var data = NBodyDataset.Generate(43, new NBodySplitSizes(100, 0, 0));
        batch = data.CreateBatch(NBodySplit.Train, Enumerable.Range(0, 100).ToArray());
        model = new NBodyPonita(new NBodyModelOptions(Hidden: 128, Layers: 5));
        optimizer = torch.optim.Adam(model.parameters(), lr: 1e-3, weight_decay: 1e-10);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        batch.Dispose();
        model.Dispose();
    }

    /// <summary>One training step on a prebuilt batch of 100 systems.</summary>
    [Benchmark]
    public void PonitaTrainStep()
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.mse_loss(model.forward(batch), batch.NodeTarget!);
        loss.backward();
        optimizer.step();
    }

    /// <summary>Forward pass only (no gradient) on 100 systems.</summary>
    [Benchmark]
    public void PonitaForward()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.forward(batch);
    }
}
