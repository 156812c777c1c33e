using EquiSharp.Aggregation;
using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Steerable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// SEGNN for the charged N-body task, configured as in Brandstetter et al. (2022): steerable
/// attributes are spherical harmonics up to l = 1 (e3nn "integral" normalisation) of the relative
/// positions x_j − x_i on the edges, and on the nodes the mean of those over the incoming edges plus
/// Y(v_i). Node input [x_i − c, v_i, |v_i|] (irreps 2x1o+1x0e) with c the mean position of the
/// node's own system; extra message scalars [|x_i − x_j|, q_i q_j]. A steerable linear embedding,
/// <see cref="NBodyModelOptions.Layers"/> <see cref="SegnnLayer"/>s on hidden irreps balanced to
/// <see cref="NBodyModelOptions.Hidden"/> scalar features (64 → 32x0e+32x1o), a gated and a linear
/// steerable layer to one vector (1x1o): the predicted displacement, added to x.
/// </summary>
/// <remarks>
/// E(3)-equivariant and permutation-equivariant. The reference code centres the positions by their
/// mean over the coordinate axes of each particle (x − mean(x_i, axis = coordinates)), which is not
/// rotation-equivariant; here the centre is the mean over the nodes of each system, which is.
/// </remarks>
public sealed class NBodySegnn : nn.Module<GraphBatch, Tensor>
{
    /// <summary>Irreps of the node input [x − c, v, |v|].</summary>
    public static readonly Irreps InputIrreps = "2x1o+1x0e";

    /// <summary>Irreps of the extra message scalars [|x_i − x_j|, q_i q_j].</summary>
    public static readonly Irreps ExtraIrreps = "2x0e";

    /// <summary>Degree of the steerable attributes and hidden irreps.</summary>
    public const int Lmax = 1;

    private readonly SteerableLinear embedding, head1, head2;
    private readonly ModuleList<SegnnLayer> layers;

    /// <summary>Creates the model.</summary>
    public NBodySegnn(NBodyModelOptions? options = null) : base(nameof(NBodySegnn))
    {
        Options = options ?? new NBodyModelOptions();
        Options.Validate();
        AttributeIrreps = Irreps.SphericalHarmonics(Lmax);
        HiddenIrreps = BalancedIrreps.WeightBalanced(Options.Hidden, AttributeIrreps, Lmax);
        embedding = new SteerableLinear(InputIrreps, HiddenIrreps, AttributeIrreps);
        layers = nn.ModuleList(Enumerable.Range(0, Options.Layers)
            .Select(_ => new SegnnLayer(HiddenIrreps, AttributeIrreps, AttributeIrreps, ExtraIrreps)).ToArray());
        head1 = new SteerableLinear(HiddenIrreps, HiddenIrreps, AttributeIrreps, gated: true);
        head2 = new SteerableLinear(HiddenIrreps, "1x1o", AttributeIrreps);
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public NBodyModelOptions Options { get; }

    /// <summary>Irreps of the steerable edge and node attributes (0e+1o).</summary>
    public Irreps AttributeIrreps { get; }

    /// <summary>The balanced hidden irreps.</summary>
    public Irreps HiddenIrreps { get; }

    /// <summary>Check the edge index range on every forward pass (one reduction; on by default).</summary>
    public bool ValidateEdges { get; set; } = true;

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodySegnn));
        var charges = NBodyModels.ChargeProducts(batch, nameof(NBodySegnn));
        using var scope = torch.NewDisposeScope();
        var edges = EdgeContext.FromEdgeIndex(batch.EdgeIndex, batch.NumNodes, validate: ValidateEdges);
        var relative = edges.RelativePositions(x);
        var edgeAttr = SphericalHarmonics.Compute(Lmax, relative, normalize: true, SphericalHarmonicsNormalization.Integral);
        var nodeAttr = Scatter.Mean(edgeAttr, edges.Target, batch.NumNodes)
                       + SphericalHarmonics.Compute(Lmax, v, normalize: true, SphericalHarmonicsNormalization.Integral);
        var extra = torch.cat(new[] { relative.norm(1, keepdim: true), charges }, 1);
        var centre = Scatter.Mean(x, batch.Batch, batch.NumGraphs).index_select(0, batch.Batch);
        var h = embedding.forward(torch.cat(new[] { x - centre, v, v.norm(1, keepdim: true) }, 1), nodeAttr);
        foreach (var layer in layers)
            h = layer.forward(h, edges, edgeAttr, nodeAttr, extra);
        var displacement = head2.forward(head1.forward(h, nodeAttr), nodeAttr);
        return (x + displacement).MoveToOuterDisposeScope();
    }
}
