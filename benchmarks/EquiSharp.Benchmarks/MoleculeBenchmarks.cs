using BenchmarkDotNet.Attributes;
using EquiSharp.Datasets.Molecules;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// Molecular models, float32, one training step (forward + L1 + backward + Adam) on a batch of 96
/// molecules of 18 atoms each, fully connected (306 directed edges per molecule): EGNN-QM9 (7 layers,
/// hidden 128, attention), SchNet (6 interactions, hidden 128, 50 Gaussians) and MPNN (hidden 64, 3
/// steps). The molecules are random H/C/N/O/F point clouds with 1.5 Å typical spacing (the step cost
/// depends only on the graph sizes). Reference: the official PyTorch EGNN took about 0.92 s per step
/// of this size on the first development machine; <see cref="EgnnQm9ReferenceBenchmarks"/> times a rebuild of
/// it side by side.
/// </summary>
[MemoryDiagnoser]
public class MoleculeBenchmarks
{
    private const int Molecules = 96, Atoms = 18;
    private GraphBatch batch = null!;
    private nn.Module<GraphBatch, Tensor> model = null!;
    private torch.optim.Optimizer optimizer = null!;

    [Params("egnn", "schnet", "mpnn")]
    public string Model { get; set; } = "egnn";

    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Whether glibc keeps freed memory (<see cref="TorchRuntime.RetainFreedMemory"/>, as the CLI does); each case runs in its own process.</summary>
    [Params(true)]
    public bool RetainMemory { get; set; }

    /// <summary>A batch of random molecules of <paramref name="atoms"/> atoms (also used by tests of the step).</summary>
    public static MoleculeSet RandomMolecules(int count, int atoms, int seed)
    {
        var random = new Random(seed);
        int[] species = [1, 6, 7, 8, 9];
        var offsets = Enumerable.Range(0, count + 1).Select(m => m * atoms).ToArray();
        var z = Enumerable.Range(0, count * atoms).Select(_ => species[random.Next(species.Length)]).ToArray();
        var x = Enumerable.Range(0, 3 * count * atoms).Select(_ => (random.NextDouble() - 0.5) * 1.5 * Math.Cbrt(atoms)).ToArray();
        var y = Enumerable.Range(0, count).Select(_ => random.NextDouble()).ToArray();
        return new MoleculeSet(offsets, z, x, Enumerable.Range(0, count).Select(i => (long)i).ToArray(), ["y"], ["1"], y);
    }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(Threads);
        if (RetainMemory && !TorchRuntime.RetainFreedMemory())
            throw new InvalidOperationException("RetainFreedMemory is not supported on this platform.");
        torch.manual_seed(0);
        var features = Model == "egnn" ? AtomFeatureKind.ChargePowers : AtomFeatureKind.OneHot;
        var source = new MoleculeBatchSource(RandomMolecules(Molecules, Atoms, 1), new MoleculeGraphOptions(features));
        batch = source.CreateBatch(Enumerable.Range(0, Molecules).ToArray());
        var (hidden, layers) = MolecularModels.Defaults(Model);
        model = MolecularModels.Create(Model, new MolecularModelOptions(NodeChannels: source.Options.FeatureCount, Hidden: hidden, Layers: layers));
        optimizer = new EquiSharp.Training.FusedOptimizers.Adam(model.parameters(), lr: 5e-4);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        batch.Dispose();
        model.Dispose();
    }

    /// <summary>One training step on 96 molecules of 18 atoms.</summary>
    [Benchmark]
    public void TrainStep()
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        nn.functional.l1_loss(model.forward(batch), batch.GraphTarget!).backward();
        optimizer.step();
    }
}
