using EquiSharp.Graphs;
using EquiSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// PONITA on the N-body task, paper configuration (16 orientations, hidden 128, 5 layers, basis 256),
/// Adam lr 1e-3, one thread (a step takes seconds; two threads are not measured).
/// </summary>
public class PonitaBenchmarks : NBodyStepBenchmarks
{
    public override int Threads { get; set; } = 1;

    protected override nn.Module<GraphBatch, Tensor> CreateModel() => new NBodyPonita(new NBodyModelOptions(Hidden: 128, Layers: 5));

    protected override (double LearningRate, double WeightDecay) Adam => (1e-3, 1e-10);
}
