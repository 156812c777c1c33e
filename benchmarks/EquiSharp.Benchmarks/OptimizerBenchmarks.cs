using BenchmarkDotNet.Attributes;
using EquiSharp.Models;
using EquiSharp.Runtime;
using EquiSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// One Adam update over a model's parameters with gradients in place: TorchSharp's
/// <c>TorchSharp.Modules.Adam</c> (seven libtorch calls per parameter tensor) against
/// <see cref="FusedOptimizers.Adam"/> (one pass per tensor), which the trainer uses. Models: the
/// N-body EGNN (62 tensors, 134,020 parameters) and EGNN-QM9 (745,224 parameters). One thread.
/// </summary>
[MemoryDiagnoser]
public class OptimizerBenchmarks
{
    private nn.Module model = null!;
    private torch.optim.Optimizer optimizer = null!;

    /// <summary>egnn (N-body) or egnn-qm9.</summary>
    [Params("egnn", "egnn-qm9")]
    public string Model { get; set; } = "egnn";

    /// <summary>torchsharp or fused.</summary>
    [Params("torchsharp", "fused")]
    public string Optimizer { get; set; } = "fused";

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(1);
        torch.manual_seed(0);
        model = Model == "egnn" ? new NBodyEgnn()
            : MolecularModels.Create("egnn", new MolecularModelOptions(NodeChannels: 15, Hidden: 128, Layers: 7));
        var parameters = model.parameters().ToArray();
        foreach (var p in parameters) p.grad = torch.randn_like(p);
        optimizer = Optimizer == "fused"
            ? new FusedOptimizers.Adam(parameters, lr: 5e-4, weight_decay: 1e-12)
            : new TorchSharp.Modules.Adam(parameters, lr: 5e-4, weight_decay: 1e-12);
    }

    [GlobalCleanup]
    public void Cleanup() => model.Dispose();

    /// <summary>One optimiser step.</summary>
    [Benchmark]
    public void AdamStep()
    {
        using var scope = torch.NewDisposeScope();
        optimizer.step();
    }
}
