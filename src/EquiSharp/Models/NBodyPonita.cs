using EquiSharp.Graphs;
using EquiSharp.GroupConv;
using EquiSharp.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// PONITA for the charged N-body task, configured as in Bekkers et al. (2024): a <see cref="Ponita"/>
/// network on R³ × S² with <see cref="NBodyModelOptions.Orientations"/> repulsion-grid orientations
/// (16), hidden width <see cref="NBodyModelOptions.Hidden"/> (128 in the paper), <see cref="NBodyModelOptions.Layers"/>
/// ConvNeXt blocks (5), polynomial degree 3, basis width <see cref="NBodyModelOptions.BasisDimension"/> (256), readouts averaged over layers. Scalar
/// input: the charge (NodeFeatures [N, 1]); vector input: the velocity (NodeVectors [N, 1, 3]). The
/// graph is the batch's (fully connected) edges plus a self-loop per node (<see cref="PonitaOptions.SelfLoops"/>). Predicts one displacement
/// vector per node and returns x + Δx [N, 3].
/// </summary>
/// <remarks>Translation invariant displacement (equivariant positions), permutation equivariant; exactly
/// rotation equivariant for rotations mapping the grid onto itself, approximately for others.</remarks>
public sealed class NBodyPonita : nn.Module<GraphBatch, Tensor>
{
    private readonly Ponita network;

    /// <summary>Creates the model with the repulsion grid of <see cref="NBodyModelOptions.Orientations"/> points.</summary>
    public NBodyPonita(NBodyModelOptions? options = null) : this(options, null)
    {
    }

    /// <summary>Creates the model on a given orientation grid [O, 3] (e.g. <see cref="SphereGrids.Octahedron"/> for exactness tests).</summary>
    public NBodyPonita(NBodyModelOptions? options, Tensor? grid) : base(nameof(NBodyPonita))
    {
        Options = options ?? new NBodyModelOptions(Hidden: 128, Layers: 5);
        Options.Validate();
        using var g = grid is null ? SphereGrids.Sphere(Options.Orientations) : grid.alias();
        network = new Ponita(new PonitaOptions(InputScalars: 1, InputVectors: 1, OutputScalars: 0, OutputVectors: 1,
            Hidden: Options.Hidden, Layers: Options.Layers, BasisDimension: Options.BasisDimension, Calibrate: Options.Calibrate), g);
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public NBodyModelOptions Options { get; }

    /// <summary>The PONITA network.</summary>
    public Ponita Network => network;

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodyPonita));
        var q = NBodyModels.Charges(batch, nameof(NBodyPonita));
        var (_, displacement) = network.forward((q, v.unsqueeze(1), x, batch.EdgeIndex)); // self-loops added by the network
        return x + displacement.squeeze(1);
    }
}
