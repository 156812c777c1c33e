using EquiSharp.Graphs;
using EquiSharp.GroupConv;
using EquiSharp.Groups;
using EquiSharp.Readout;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// PONITA for molecular properties: the node features (one-hot species) are the scalar inputs of a
/// <see cref="Ponita"/> network on position–orientation space R³ × S² (<see cref="DefaultOrientations"/>
/// repulsion-grid orientations unless a grid is given; hidden <see cref="MolecularModelOptions.Hidden"/>,
/// <see cref="MolecularModelOptions.Layers"/> ConvNeXt blocks, basis width 256, polynomial degree 3, self-loops,
/// kernel calibration at the first training batch as in the reference), which reads out
/// <see cref="MolecularModelOptions.Outputs"/> scalars per atom (the mean over the grid, averaged over the
/// layers); the molecule's prediction is their sum over its atoms. Invariant exactly to translations and
/// node permutations, and to the rotations (and, for a grid closed under o ↦ −o, the inversion) that map
/// the grid onto itself; approximately to other rotations, like every PONITA model (docs/ponita.md).
/// </summary>
public sealed class MolecularPonita : nn.Module<GraphBatch, Tensor>
{
    /// <summary>Orientations of the default repulsion grid (PONITA's N-body setting).</summary>
    public const int DefaultOrientations = 16;

    private readonly Ponita network;

    /// <summary>Creates the model on the default grid.</summary>
    public MolecularPonita(MolecularModelOptions options) : this(options, null)
    {
    }

    /// <summary>Creates the model on <paramref name="grid"/> [O, 3] (unit vectors; null: the default repulsion grid).</summary>
    public MolecularPonita(MolecularModelOptions options, Tensor? grid, bool calibrate = true) : base(nameof(MolecularPonita))
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        using var g = grid is null ? SphereGrids.Sphere(DefaultOrientations) : grid.alias();
        network = new Ponita(new PonitaOptions(InputScalars: options.NodeChannels, InputVectors: 0, OutputScalars: options.Outputs, OutputVectors: 0,
            Hidden: options.Hidden, Layers: options.Layers, Calibrate: calibrate), g);
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public MolecularModelOptions Options { get; }

    /// <summary>The PONITA network.</summary>
    public Ponita Network => network;

    /// <summary>Graph-level predictions [G, Outputs].</summary>
    public override Tensor forward(GraphBatch batch)
    {
        var (x, features) = MolecularModels.Inputs(batch, Options, nameof(MolecularPonita));
        var (perAtom, _) = network.forward((features, null, x, batch.EdgeIndex)); // self-loops added by the network
        return GlobalPool.Sum(perAtom, batch.Batch, batch.NumGraphs);
    }
}
