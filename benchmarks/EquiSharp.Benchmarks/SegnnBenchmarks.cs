using BenchmarkDotNet.Attributes;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Steerable;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// SEGNN on the N-body task, paper configuration (4 layers, 64 scalar features balanced to
/// 32x0e+32x1o, attributes l ≤ 1), Adam lr 5e-4. Reference: the official PyTorch SEGNN takes about
/// 110 ms per training step on this machine's 2 cores.
/// </summary>
public class SegnnBenchmarks : NBodyStepBenchmarks
{
    [Params(1, 2)]
    public override int Threads { get; set; }

    /// <summary>
    /// Whether the message layers apply their first weights per node before the gather
    /// (<see cref="SteerableLinear.UseGathered"/>, the default); false measures the route through the per-edge concatenation.
    /// </summary>
    [Params(true, false)]
    public bool Gathered { get; set; }

    protected override nn.Module<GraphBatch, Tensor> CreateModel()
    {
        SteerableLinear.UseGathered = Gathered;
        return new NBodySegnn { ValidateEdges = false };
    }

    protected override (double LearningRate, double WeightDecay) Adam => (5e-4, 1e-12);
}
