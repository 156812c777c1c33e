using EquiSharp.Graphs;
using EquiSharp.Steerable;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// Gilmer et al.'s MPNN (<see cref="Mpnn"/>: edge network, GRU, Set2Set) on a distance-featured graph:
/// the edge attributes are <see cref="MolecularModelOptions.RadialBasis"/> Gaussians of the interatomic
/// distance on [0, cutoff], recomputed from the positions on every call. Invariant to rotations,
/// reflections, translations and permutations.
/// </summary>
public sealed class MolecularMpnn : nn.Module<GraphBatch, Tensor>
{
    private readonly GaussianBasis basis;
    private readonly Mpnn mpnn;

    /// <summary>Creates the model (<see cref="MolecularModelOptions.Layers"/> message passing steps).</summary>
    public MolecularMpnn(MolecularModelOptions options) : base(nameof(MolecularMpnn))
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        basis = new GaussianBasis(options.RadialBasis, options.Cutoff);
        mpnn = new Mpnn(new MpnnOptions(options.NodeChannels, options.RadialBasis, options.Outputs, options.Hidden, options.Layers,
            EdgeHidden: 2 * options.Hidden));
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public MolecularModelOptions Options { get; }

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, _) = MolecularModels.Inputs(batch, Options, nameof(MolecularMpnn));
        var attributes = basis.forward(MolecularModels.Distances(x, batch.EdgeIndex));
        return mpnn.forward(batch with { EdgeAttributes = attributes });
    }
}
