using BenchmarkDotNet.Attributes;
using EquiSharp.Benchmarks.Reference;
using EquiSharp.Datasets.Molecules;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// The EGNN-QM9 training step (96 molecules of 18 atoms, 7 layers, hidden 128, attention; forward,
/// L1 loss, backward, Adam) side by side with the official PyTorch EGNN's operations on the same
/// machine (<see cref="ReferenceEgnnQm9"/>, the baseline: same libtorch, no Python interpreter).
/// EquiSharp runs as the CLI does (freed memory retained, passive OpenMP waits from the host);
/// the reference with PyTorch's defaults for the allocator and libtorch's threads when the host is
/// started with <c>OMP_WAIT_POLICY=ACTIVE EQUISHARP_HUGEPAGES=0</c> (docs/benchmarks.md gives the commands).
/// </summary>
[MemoryDiagnoser]
public class EgnnQm9ReferenceBenchmarks
{
    private const int Molecules = 96, Atoms = 18;

    [Params(1, 2)]
    public int Threads { get; set; }

    private GraphBatch batch = null!;
    private nn.Module<GraphBatch, Tensor> model = null!;
    private torch.optim.Optimizer optimizer = null!;

    private ReferenceEgnnQm9.Batch referenceBatch = null!;
    private ReferenceEgnnQm9 reference = null!, referenceIndexSelect = null!;
    private Tensor referenceLabel = null!;
    private torch.optim.Optimizer referenceOptimizer = null!, referenceIndexSelectOptimizer = null!;

    /// <summary>EquiSharp's model and batch, with freed memory retained as in the CLI.</summary>
    [GlobalSetup(Target = nameof(EquiSharp))]
    public void SetupEquiSharp()
    {
        TorchRuntime.SetThreads(Threads);
        if (!TorchRuntime.RetainFreedMemory())
            throw new InvalidOperationException("RetainFreedMemory is not supported on this platform.");
        torch.manual_seed(0);
        var source = new MoleculeBatchSource(MoleculeBenchmarks.RandomMolecules(Molecules, Atoms, 1), new MoleculeGraphOptions(AtomFeatureKind.ChargePowers));
        batch = source.CreateBatch(Enumerable.Range(0, Molecules).ToArray());
        model = MolecularModels.Create("egnn", new MolecularModelOptions(NodeChannels: source.Options.FeatureCount));
        optimizer = new EquiSharp.Training.FusedOptimizers.Adam(model.parameters(), lr: 1e-3, weight_decay: 1e-16);
    }

    /// <summary>The reference's model and dense batch, allocator on glibc's defaults; Adam as in <c>main_qm9.py</c>.</summary>
    [GlobalSetup(Targets = [nameof(Reference), nameof(ReferenceIndexSelect)])]
    public void SetupReference()
    {
        TorchRuntime.SetThreads(Threads);
        torch.manual_seed(0);
        referenceBatch = ReferenceEgnnQm9.FromMolecules(MoleculeBenchmarks.RandomMolecules(Molecules, Atoms, 1), Enumerable.Range(0, Molecules).ToArray());
        reference = new ReferenceEgnnQm9();
        referenceIndexSelect = new ReferenceEgnnQm9(indexSelect: true);
        referenceLabel = torch.rand(Molecules);
        referenceOptimizer = torch.optim.Adam(reference.parameters(), lr: 1e-3, weight_decay: 1e-16);
        referenceIndexSelectOptimizer = torch.optim.Adam(referenceIndexSelect.parameters(), lr: 1e-3, weight_decay: 1e-16);
    }

    /// <summary>One EquiSharp training step.</summary>
    [Benchmark]
    public void EquiSharp()
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        nn.functional.l1_loss(model.forward(batch), batch.GraphTarget!).backward();
        optimizer.step();
    }

    /// <summary>One training step of the official EGNN's operations.</summary>
    [Benchmark(Baseline = true)]
    public void Reference()
    {
        using var scope = torch.NewDisposeScope();
        referenceOptimizer.zero_grad();
        nn.functional.l1_loss(reference.forward(referenceBatch), referenceLabel).backward();
        referenceOptimizer.step();
    }

    /// <summary>The same with the gathers done by <c>index_select</c> (cheaper backward with two threads; favours the reference).</summary>
    [Benchmark]
    public void ReferenceIndexSelect()
    {
        using var scope = torch.NewDisposeScope();
        referenceIndexSelectOptimizer.zero_grad();
        nn.functional.l1_loss(referenceIndexSelect.forward(referenceBatch), referenceLabel).backward();
        referenceIndexSelectOptimizer.step();
    }
}
