using EquiSharp.Aggregation;
using EquiSharp.Graphs;
using EquiSharp.Steerable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>
/// A Tensor Field Network layer (Thomas et al. 2018), the steerable point convolution: linear in the
/// neighbour features, with a kernel that is a learned radial profile times spherical harmonics.
/// <code>
///   m_ij = f_j ⊗_cg^{W(r_ij)} Y(x_j − x_i)      channel-wise (uvu) tensor product, weights from a radial MLP
///   f'_i = Gate( L_1(Σ_j m_ij) + L_2(f_i) )       self-interaction (equivariant linear maps), gate
/// </code>
/// The radial MLP maps [|x_j − x_i|, e_ij] (e_ij: optional invariant edge scalars such as q_i q_j)
/// to the weights of every path, one set per edge. The tensor product keeps every output irrep of
/// f_j ⊗ Y whose type the layer's output has; all edges go through it in one call.
/// </summary>
public sealed class TfnLayer : nn.Module
{
    private readonly TensorProduct product;
    private readonly Sequential radial;
    private readonly EquivariantLinear interaction, selfConnection;
    private readonly Gate? gate;

    /// <summary>Creates the layer.</summary>
    /// <param name="irrepsIn">Irreps of the node features.</param>
    /// <param name="irrepsOut">Irreps of the output (after the gate when <paramref name="gated"/>; then 0e scalars first).</param>
    /// <param name="shLmax">Degree of the spherical harmonics of the relative positions.</param>
    /// <param name="edgeScalars">Number of invariant edge scalars e_ij fed to the radial MLP next to the distance.</param>
    /// <param name="radialHidden">Width of the radial MLP (two hidden SiLU layers).</param>
    /// <param name="gated">Apply the gate (otherwise the layer is linear in the features, e.g. for the output layer).</param>
    /// <param name="aggregation">How the messages into a node are combined: sum (TFN) or mean.</param>
    public TfnLayer(Irreps irrepsIn, Irreps irrepsOut, int shLmax = 2, int edgeScalars = 0, int radialHidden = 32, bool gated = true,
        Aggregation.Aggregation aggregation = Aggregation.Aggregation.Sum)
        : base(nameof(TfnLayer))
    {
        if (aggregation is not (Aggregation.Aggregation.Sum or Aggregation.Aggregation.Mean))
            throw new ArgumentException($"TfnLayer aggregates by sum or mean, not {aggregation}: the convolution must stay linear in the messages.", nameof(aggregation));
        MessageAggregation = aggregation;
        IrrepsIn = irrepsIn ?? throw new ArgumentNullException(nameof(irrepsIn));
        IrrepsOut = irrepsOut ?? throw new ArgumentNullException(nameof(irrepsOut));
        if (shLmax < 0) throw new ArgumentOutOfRangeException(nameof(shLmax), shLmax, "Must be non-negative.");
        if (edgeScalars < 0) throw new ArgumentOutOfRangeException(nameof(edgeScalars), edgeScalars, "Must be non-negative.");
        if (radialHidden < 1) throw new ArgumentOutOfRangeException(nameof(radialHidden), radialHidden, "Must be positive.");
        ShIrreps = Irreps.SphericalHarmonics(shLmax);
        EdgeScalars = edgeScalars;
        Irreps target = irrepsOut;
        if (gated)
        {
            gate = Gate.SwishGated(irrepsOut);
            target = gate.IrrepsIn.Simplify();
        }
        // Channel-wise paths f_j (l1) ⊗ Y (l2) → every l_out of the output's types; one output block per path.
        var wanted = target.Select(b => b.Irrep).ToHashSet();
        var blocks = new List<MulIrrep>();
        var paths = new List<TensorProductInstruction>();
        for (int i1 = 0; i1 < irrepsIn.Count; i1++)
            for (int i2 = 0; i2 < ShIrreps.Count; i2++)
                foreach (var o in irrepsIn[i1].Irrep.Times(ShIrreps[i2].Irrep))
                    if (wanted.Contains(o) && irrepsIn[i1].Mul > 0)
                    {
                        paths.Add(new TensorProductInstruction(i1, i2, blocks.Count, ConnectionMode.Uvu));
                        blocks.Add(new MulIrrep(irrepsIn[i1].Mul, o));
                    }
        if (paths.Count == 0)
            throw new ArgumentException($"No path couples '{irrepsIn}' and '{ShIrreps}' into the types of '{target}'.");
        MessageIrreps = new Irreps(blocks);
        product = new TensorProduct(irrepsIn, ShIrreps, MessageIrreps, paths, internalWeights: false);
        radial = nn.Sequential(
            nn.Linear(1 + edgeScalars, radialHidden), nn.SiLU(),
            nn.Linear(radialHidden, radialHidden), nn.SiLU(),
            nn.Linear(radialHidden, product.WeightNumel));
        interaction = new EquivariantLinear(MessageIrreps, target, biases: true);
        selfConnection = new EquivariantLinear(irrepsIn, target);
        RegisterComponents();
    }

    /// <summary>Irreps of the node features.</summary>
    public Irreps IrrepsIn { get; }

    /// <summary>Irreps of the output.</summary>
    public Irreps IrrepsOut { get; }

    /// <summary>Irreps of the spherical harmonics.</summary>
    public Irreps ShIrreps { get; }

    /// <summary>Irreps of the messages m_ij (one block per tensor-product path).</summary>
    public Irreps MessageIrreps { get; }

    /// <summary>How messages are combined (sum or mean).</summary>
    public Aggregation.Aggregation MessageAggregation { get; }

    /// <summary>The self-interaction applied to the aggregated messages.</summary>
    public EquivariantLinear Interaction => interaction;

    /// <summary>The self-connection applied to the node's own features.</summary>
    public EquivariantLinear SelfConnection => selfConnection;

    /// <summary>Number of invariant edge scalars the radial MLP takes besides the distance.</summary>
    public int EdgeScalars { get; }

    /// <summary>
    /// One layer: f [N, IrrepsIn.Dim], positions [N, 3], edges, e_ij [E, EdgeScalars] (null when
    /// EdgeScalars = 0) → f' [N, IrrepsOut.Dim].
    /// </summary>
    public Tensor forward(Tensor features, Tensor positions, EdgeContext edges, Tensor? edgeScalars = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(edges);
        if (features.dim() != 2 || features.shape[0] != edges.NumNodes || features.shape[1] != IrrepsIn.Dim)
            throw new GraphValidationException($"TfnLayer: features have shape {GraphValidation.Shape(features)}; expected [N = {edges.NumNodes}, {IrrepsIn.Dim}] ('{IrrepsIn}').");
        if (positions.dim() != 2 || positions.shape[0] != edges.NumNodes || positions.shape[1] != 3)
            throw new GraphValidationException($"TfnLayer: positions have shape {GraphValidation.Shape(positions)}; expected [N = {edges.NumNodes}, 3].");
        if (EdgeScalars > 0 && (edgeScalars is null || edgeScalars.dim() != 2 || edgeScalars.shape[0] != edges.NumEdges || edgeScalars.shape[1] != EdgeScalars))
            throw new GraphValidationException($"TfnLayer: edge scalars have shape {(edgeScalars is null ? "null" : GraphValidation.Shape(edgeScalars))}; expected [E = {edges.NumEdges}, {EdgeScalars}].");
        using var scope = torch.NewDisposeScope();
        var relative = edges.RelativePositions(positions);
        var sh = SphericalHarmonics.Compute(ShIrreps, relative);
        var distance = relative.norm(1, keepdim: true);
        var weights = radial.forward(EdgeScalars > 0 ? torch.cat(new[] { distance, edgeScalars! }, 1) : distance);
        var messages = product.forward(edges.GatherSource(features), sh, weights);
        var y = interaction.forward(Scatter.Aggregate(messages, edges.Target, edges.NumNodes, MessageAggregation)) + selfConnection.forward(features);
        if (gate is not null) y = gate.forward(y);
        return y.MoveToOuterDisposeScope();
    }
}
