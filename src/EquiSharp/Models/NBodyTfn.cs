using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Steerable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// Tensor Field Network for the charged N-body task: steerable point convolutions
/// (<see cref="TfnLayer"/>, spherical harmonics up to l = 2, radial MLP of [|x_j − x_i|, q_i q_j]).
/// Node input: the charge q_i and the speed |v_i| as scalars and the velocity v_i as a vector
/// (2x0e+1x1o); hidden irreps (H/2)x0e+(H/4)x1o+(H/8)x2e for H = <see cref="NBodyModelOptions.Hidden"/>;
/// <see cref="NBodyModelOptions.Layers"/> convolutions, gated with residual connections between
/// hidden layers, the last one linear to a single vector (1x1o): the predicted displacement, added to x.
/// Messages are averaged over the neighbours; the output layer starts at 1% of its usual scale, so
/// training starts near "no motion".
/// </summary>
/// <remarks>E(3)-equivariant and permutation-equivariant. Unlike SEGNN, every message is linear in
/// the neighbour features (the non-linearity acts on the nodes only).</remarks>
public sealed class NBodyTfn : nn.Module<GraphBatch, Tensor>
{
    /// <summary>Irreps of the node input [q, |v|, v].</summary>
    public static readonly Irreps InputIrreps = "2x0e+1x1o";

    /// <summary>Degree of the spherical harmonics of the edges.</summary>
    public const int ShLmax = 2;

    private readonly ModuleList<TfnLayer> layers;

    /// <summary>Creates the model.</summary>
    public NBodyTfn(NBodyModelOptions? options = null) : base(nameof(NBodyTfn))
    {
        Options = options ?? new NBodyModelOptions();
        Options.Validate();
        int h = Options.Hidden;
        HiddenIrreps = new Irreps((Math.Max(1, h / 2), new Irrep(0, 1)), (Math.Max(1, h / 4), new Irrep(1, -1)), (Math.Max(1, h / 8), new Irrep(2, 1)));
        var list = new List<TfnLayer>();
        var current = InputIrreps;
        for (int k = 0; k < Options.Layers - 1; k++)
        {
            list.Add(new TfnLayer(current, HiddenIrreps, ShLmax, edgeScalars: 1, radialHidden: Math.Max(8, h / 2), aggregation: Aggregation.Aggregation.Mean));
            current = HiddenIrreps;
        }
        list.Add(new TfnLayer(current, "1x1o", ShLmax, edgeScalars: 1, radialHidden: Math.Max(8, h / 2), gated: false, aggregation: Aggregation.Aggregation.Mean));
        // Start close to "no motion": the output layer's linear maps begin at 1% of their usual scale.
        using (torch.no_grad())
        {
            list[^1].Interaction.Weight.mul_(0.01);
            list[^1].SelfConnection.Weight.mul_(0.01);
        }
        layers = nn.ModuleList(list.ToArray());
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public NBodyModelOptions Options { get; }

    /// <summary>The hidden irreps.</summary>
    public Irreps HiddenIrreps { get; }

    /// <summary>Check the edge index range on every forward pass (on by default).</summary>
    public bool ValidateEdges { get; set; } = true;

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodyTfn));
        var charges = NBodyModels.ChargeProducts(batch, nameof(NBodyTfn));
        var q = batch.NodeFeatures;
        if (q is null || q.dim() != 2 || q.shape[0] != batch.NumNodes || q.shape[1] != 1)
            throw new GraphValidationException($"{nameof(NBodyTfn)} needs NodeFeatures (charges) [N = {batch.NumNodes}, 1]; the batch has {(q is null ? "none" : GraphValidation.Shape(q))}.");
        using var scope = torch.NewDisposeScope();
        var edges = EdgeContext.FromEdgeIndex(batch.EdgeIndex, batch.NumNodes, validate: ValidateEdges);
        var h = torch.cat(new[] { q, v.norm(1, keepdim: true), v }, 1);
        for (int k = 0; k < layers.Count; k++)
        {
            var y = layers[k].forward(h, x, edges, charges);
            h = k > 0 && k < layers.Count - 1 ? h + y : y;
        }
        return (x + h).MoveToOuterDisposeScope();
    }
}
