using EquiSharp.Aggregation;
using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Readout;
using EquiSharp.Steerable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// SEGNN for molecular properties (Brandstetter et al. 2022, the QM9 model of the reference code):
/// edge attributes a_ij = Y(x_j − x_i) up to l = <see cref="AttributeLmax"/> (integral normalisation,
/// unit vectors), node attributes the mean of a_ij over each node's incoming edges, the distance |x_j − x_i|
/// as an extra invariant message input; hidden irreps balanced to <see cref="MolecularModelOptions.Hidden"/>
/// scalars up to l = <see cref="HiddenLmax"/> (<see cref="BalancedIrreps.WeightBalanced"/>); a steerable
/// embedding of the (one-hot) node features, <see cref="MolecularModelOptions.Layers"/> SEGNN layers with
/// instance normalisation, a gated steerable layer and a steerable layer to Hidden scalars before mean
/// pooling, then Linear → SiLU → Linear to the outputs. Every input to the steerable layers is built from
/// relative positions, so the output is invariant to rotations, reflections, translations and node
/// permutations (tested in float64).
/// </summary>
public sealed class MolecularSegnn : nn.Module<GraphBatch, Tensor>
{
    /// <summary>Highest degree of the attributes (the reference's lmax_attr for QM9).</summary>
    public const int AttributeLmax = 3;

    /// <summary>Highest degree of the hidden features (the reference's lmax_h for QM9).</summary>
    public const int HiddenLmax = 2;

    /// <summary>The extra invariant message input: the edge length.</summary>
    public static readonly Irreps ExtraIrreps = "1x0e";

    private readonly SteerableLinear embedding, prePool1, prePool2;
    private readonly ModuleList<SegnnLayer> layers;
    private readonly Sequential postPool;

    /// <summary>Creates the model (node inputs: <see cref="MolecularModelOptions.NodeChannels"/> scalars).</summary>
    public MolecularSegnn(MolecularModelOptions options) : base(nameof(MolecularSegnn))
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        AttributeIrreps = Irreps.SphericalHarmonics(AttributeLmax);
        HiddenIrreps = BalancedIrreps.WeightBalanced(options.Hidden, AttributeIrreps, HiddenLmax);
        Irreps scalars = new((options.Hidden, new Irrep(0, 1)));
        embedding = new SteerableLinear(new Irreps((options.NodeChannels, new Irrep(0, 1))), HiddenIrreps, AttributeIrreps);
        layers = nn.ModuleList(Enumerable.Range(0, options.Layers)
            .Select(_ => new SegnnLayer(HiddenIrreps, AttributeIrreps, AttributeIrreps, ExtraIrreps, SegnnNorm.Instance)).ToArray());
        prePool1 = new SteerableLinear(HiddenIrreps, HiddenIrreps, AttributeIrreps, gated: true);
        prePool2 = new SteerableLinear(HiddenIrreps, scalars, AttributeIrreps);
        postPool = nn.Sequential(nn.Linear(options.Hidden, options.Hidden), nn.SiLU(), nn.Linear(options.Hidden, options.Outputs));
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public MolecularModelOptions Options { get; }

    /// <summary>Irreps of the edge and node attributes (0e+1o+2e+3o).</summary>
    public Irreps AttributeIrreps { get; }

    /// <summary>The balanced hidden irreps.</summary>
    public Irreps HiddenIrreps { get; }

    /// <summary>Graph-level predictions [G, Outputs].</summary>
    public override Tensor forward(GraphBatch batch)
    {
        var (x, features) = MolecularModels.Inputs(batch, Options, nameof(MolecularSegnn));
        using var scope = torch.NewDisposeScope();
        var edges = EdgeContext.FromEdgeIndex(batch.EdgeIndex, batch.NumNodes);
        var relative = edges.RelativePositions(x);
        var edgeAttr = SphericalHarmonics.Compute(AttributeLmax, relative, normalize: true, SphericalHarmonicsNormalization.Integral);
        var nodeAttr = Scatter.Mean(edgeAttr, edges.Target, batch.NumNodes);
        var distance = relative.norm(1, keepdim: true);
        var h = embedding.forward(features, nodeAttr);
        foreach (var layer in layers)
            h = layer.forward(h, edges, edgeAttr, nodeAttr, distance, batch.Batch, batch.NumGraphs);
        h = prePool2.forward(prePool1.forward(h, nodeAttr), nodeAttr);
        var pooled = GlobalPool.Mean(h, batch.Batch, batch.NumGraphs);
        return postPool.forward(pooled).MoveToOuterDisposeScope();
    }
}
