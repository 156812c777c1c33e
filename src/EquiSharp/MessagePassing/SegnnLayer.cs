using EquiSharp.Aggregation;
using EquiSharp.Graphs;
using EquiSharp.Steerable;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>Feature normalisation after each <see cref="SegnnLayer"/>.</summary>
public enum SegnnNorm
{
    /// <summary>None (the N-body reference).</summary>
    None,

    /// <summary><see cref="EquivariantLayerNorm"/> over the channels of each node.</summary>
    Layer,

    /// <summary><see cref="EquivariantInstanceNorm"/> over the nodes of each graph (needs the batch vector).</summary>
    Instance,
}

/// <summary>
/// One SEGNN layer (Brandstetter et al. 2022): steerable non-linear message passing.
/// <code>
///   m_ij = φ_m([f_i, f_j, e_ij] ; a_ij)          two gated steerable linear layers, conditioned on a_ij
///   f'_i = f_i + φ_f([f_i, Σ_j m_ij] ; a_i)        gated, then linear; conditioned on a_i
/// </code>
/// f are hidden irreps features, a_ij steerable edge attributes (e.g. Y(x_j − x_i)), a_i steerable
/// node attributes (e.g. the mean of a_ij over neighbours), e_ij optional invariant extras
/// (e.g. |x_i − x_j|, q_i q_j). Messages are summed. The concatenations are regrouped by irrep
/// (<see cref="IrrepsConcat"/>) so each tensor product runs over all edges (or nodes) in a few
/// large operations.
/// </summary>
public sealed class SegnnLayer : nn.Module
{
    private readonly SteerableMlp message, update;
    private readonly EquivariantLayerNorm? norm;
    private readonly EquivariantInstanceNorm? instanceNorm;
    private readonly IrrepsConcat messageInput, updateInput;

    /// <summary>Creates the layer.</summary>
    /// <param name="irreps">Irreps of the node features (input = output, residual update; 0e scalars first).</param>
    /// <param name="edgeAttr">Irreps of the edge attributes a_ij.</param>
    /// <param name="nodeAttr">Irreps of the node attributes a_i.</param>
    /// <param name="extra">Irreps of the extra message inputs e_ij (invariants: n×0e), or null/empty for none.</param>
    /// <param name="normalization">Feature normalisation after the update.</param>
    public SegnnLayer(Irreps irreps, Irreps edgeAttr, Irreps nodeAttr, Irreps? extra = null, SegnnNorm normalization = SegnnNorm.None)
        : base(nameof(SegnnLayer))
    {
        Irreps = irreps ?? throw new ArgumentNullException(nameof(irreps));
        EdgeAttr = edgeAttr ?? throw new ArgumentNullException(nameof(edgeAttr));
        NodeAttr = nodeAttr ?? throw new ArgumentNullException(nameof(nodeAttr));
        Extra = extra ?? Irreps.Empty;
        messageInput = new IrrepsConcat(irreps, irreps, Extra);
        updateInput = new IrrepsConcat(irreps, irreps);
        message = new SteerableMlp(messageInput.IrrepsOut, new[] { irreps, irreps }, edgeAttr, gateLast: true);
        update = new SteerableMlp(updateInput.IrrepsOut, new[] { irreps, irreps }, nodeAttr, gateLast: false);
        if (normalization == SegnnNorm.Layer) norm = new EquivariantLayerNorm(irreps);
        if (normalization == SegnnNorm.Instance) instanceNorm = new EquivariantInstanceNorm(irreps);
        Normalization = normalization;
        RegisterComponents();
    }

    /// <summary>Irreps of the node features.</summary>
    public Irreps Irreps { get; }

    /// <summary>Irreps of the edge attributes.</summary>
    public Irreps EdgeAttr { get; }

    /// <summary>Irreps of the node attributes.</summary>
    public Irreps NodeAttr { get; }

    /// <summary>Irreps of the extra message inputs (empty when none).</summary>
    public Irreps Extra { get; }

    /// <summary>The normalisation.</summary>
    public SegnnNorm Normalization { get; }

    /// <summary>The message network φ_m.</summary>
    public SteerableMlp Message => message;

    /// <summary>The update network φ_f.</summary>
    public SteerableMlp Update => update;

    /// <summary>
    /// One layer: f [N, Irreps.Dim], edges, a_ij [E, EdgeAttr.Dim], a_i [N, NodeAttr.Dim],
    /// e_ij [E, Extra.Dim] (null when there are none) → f' [N, Irreps.Dim]. Instance normalisation
    /// needs the graph of every node <paramref name="batch"/> [N] and <paramref name="numGraphs"/>.
    /// </summary>
    public Tensor forward(Tensor features, EdgeContext edges, Tensor edgeAttr, Tensor nodeAttr, Tensor? extra = null, Tensor? batch = null, long numGraphs = 0)
    {
        if (instanceNorm is not null && (batch is null || numGraphs < 1))
            throw new ArgumentException("SegnnLayer with instance normalisation needs the batch vector [N] and the number of graphs.", nameof(batch));
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(edges);
        Check(features, edges.NumNodes, Irreps, "features", "N");
        Check(edgeAttr, edges.NumEdges, EdgeAttr, "edge attributes", "E");
        Check(nodeAttr, edges.NumNodes, NodeAttr, "node attributes", "N");
        if (Extra.Dim > 0) Check(extra ?? throw new ArgumentException($"SegnnLayer: extra message inputs [E, {Extra.Dim}] ('{Extra}') are required.", nameof(extra)), edges.NumEdges, Extra, "extra message inputs", "E");
        using var scope = torch.NewDisposeScope();
        // The first message layer's weights act on the node features before they are gathered per edge.
        var m = message.ForwardGathered(messageInput, features, edges.Target, edges.Source, Extra.Dim > 0 ? extra : null, edgeAttr);
        var aggregated = Scatter.Sum(m, edges.Target, edges.NumNodes);
        var y = features + update.forward(updateInput.Apply(features, aggregated), nodeAttr);
        if (norm is not null) y = norm.forward(y);
        if (instanceNorm is not null) y = instanceNorm.forward(y, batch!, numGraphs);
        return y.MoveToOuterDisposeScope();
    }

    private static void Check(Tensor t, long rows, Irreps irreps, string what, string symbol)
    {
        ArgumentNullException.ThrowIfNull(t, what);
        if (t.dim() != 2 || t.shape[0] != rows || t.shape[1] != irreps.Dim)
            throw new GraphValidationException($"SegnnLayer: {what} have shape {GraphValidation.Shape(t)}; expected [{symbol} = {rows}, {irreps.Dim}] ('{irreps}').");
    }
}
