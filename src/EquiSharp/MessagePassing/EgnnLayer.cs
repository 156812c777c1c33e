using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>Hyper-parameters of <see cref="EgnnLayer"/>.</summary>
/// <param name="InChannels">Node feature size F_in of h.</param>
/// <param name="Hidden">Width of the message, coordinate and node networks (and the message size).</param>
/// <param name="OutChannels">Output node feature size (default: <paramref name="InChannels"/>; must equal it for the residual update).</param>
/// <param name="EdgeChannels">Edge attribute size B of a_ij (0: no attributes).</param>
/// <param name="UpdateCoordinates">Update x (off for invariant tasks such as QM9: x is returned unchanged).</param>
/// <param name="UseVelocity">Add φ_v(h_i) v_i to x_i (the EGNN_vel variant); needs a velocity in <see cref="EgnnLayer.forward"/>.</param>
/// <param name="CoordinateAggregation">Sum or mean of the coordinate terms over neighbours (EGNN: mean).</param>
/// <param name="CoordinateWeight">Factor C of the aggregated coordinate update.</param>
/// <param name="CoordinateClamp">Each term (x_i − x_j) φ_x(m_ij) is clamped to ±this per component; null: no clamping (EGNN: 100).</param>
/// <param name="Tanh">Apply tanh to φ_x's output (scaled by <paramref name="CoordinateRange"/>) for stability.</param>
/// <param name="CoordinateRange">Scale of the tanh output when <paramref name="Tanh"/> is on.</param>
/// <param name="NormalizeDifference">Use (x_i − x_j)/(|x_i − x_j| + <paramref name="NormEpsilon"/>) instead of x_i − x_j in the coordinate update.</param>
/// <param name="NormEpsilon">Added to the norm when <paramref name="NormalizeDifference"/> is on (reference: 1).</param>
/// <param name="Attention">Gate each message by sigmoid(Linear(m_ij)).</param>
/// <param name="Residual">h' = h + φ_h(h, SUM m) (else h' = φ_h(h, SUM m)).</param>
/// <param name="CoordinateInitGain">Xavier-uniform gain of φ_x's last (bias-free) layer (reference: 0.001).</param>
public sealed record EgnnLayerOptions(
    long InChannels,
    long Hidden,
    long? OutChannels = null,
    long EdgeChannels = 0,
    bool UpdateCoordinates = true,
    bool UseVelocity = false,
    Aggregation.Aggregation CoordinateAggregation = Aggregation.Aggregation.Mean,
    double CoordinateWeight = 1.0,
    double? CoordinateClamp = 100.0,
    bool Tanh = false,
    double CoordinateRange = 1.0,
    bool NormalizeDifference = false,
    double NormEpsilon = 1.0,
    bool Attention = false,
    bool Residual = true,
    double CoordinateInitGain = 0.001)
{
    /// <summary>The output feature size.</summary>
    public long Out => OutChannels ?? InChannels;
}

/// <summary>
/// The edges an <see cref="EgnnLayer"/> works on, prepared once per forward pass and shared by all
/// layers: source j and target i of every edge (see <see cref="GeometricGraph"/>), an interleaved
/// index [i_0, j_0, i_1, j_1, ...] that gathers [h_i, h_j] in one op, the inverse in-degree for mean
/// aggregation, and optional edge attributes a_ij.
/// </summary>
public sealed class EgnnEdges
{
    private EgnnEdges(Tensor source, Tensor target, Tensor pairs, Tensor splitPairs, Tensor inverseDegree, long numNodes, Tensor? attributes)
    {
        Source = source; Target = target; Pairs = pairs; SplitPairs = splitPairs; InverseDegree = inverseDegree; NumNodes = numNodes; Attributes = attributes;
    }

    /// <summary>Source j of every edge [E].</summary>
    public Tensor Source { get; }

    /// <summary>Target i of every edge [E]; everything is aggregated here.</summary>
    public Tensor Target { get; }

    /// <summary>Interleaved [i_0, j_0, i_1, j_1, ...] [2E]: <c>t.index_select(0, Pairs).view(E, 2F)</c> is [t_i, t_j].</summary>
    public Tensor Pairs { get; }

    /// <summary>
    /// [2i_0, 2j_0 + 1, 2i_1, 2j_1 + 1, ...] [2E]: gathers rows of a node tensor [N, 2, K] viewed
    /// as [2N, K] so that edge e gets (row 0 of its target, row 1 of its source).
    /// </summary>
    public Tensor SplitPairs { get; }

    /// <summary>1 / max(in-degree, 1) [N, 1] in the floating dtype of the layer.</summary>
    public Tensor InverseDegree { get; }

    /// <summary>Number of nodes N.</summary>
    public long NumNodes { get; }

    /// <summary>Number of edges E.</summary>
    public long NumEdges => Source.shape[0];

    /// <summary>Edge attributes a_ij [E, B], or null.</summary>
    public Tensor? Attributes { get; }

    /// <summary>The same edges with other attributes a_ij [E, B] (or none).</summary>
    public EgnnEdges WithAttributes(Tensor? attributes)
    {
        if (attributes is not null && (attributes.dim() != 2 || attributes.shape[0] != NumEdges))
            throw new GraphValidationException($"EgnnEdges: edge attributes have shape {GraphValidation.Shape(attributes)}; expected [E = {NumEdges}, B].");
        return new EgnnEdges(Source, Target, Pairs, SplitPairs, InverseDegree, NumNodes, attributes);
    }

    /// <summary>x_i − x_j for every edge [E, d] (two gathers in one op).</summary>
    public Tensor Differences(Tensor x)
    {
        var xij = x.index_select(0, Pairs).view(NumEdges, 2, x.shape[1]);
        return xij[.., 0] - xij[.., 1];
    }

    /// <summary>Prepares the edges of an edge index [2, E] (row 0 source, row 1 target) over <paramref name="numNodes"/> nodes.</summary>
    /// <param name="edgeIndex">[2, E] int64.</param>
    /// <param name="numNodes">N.</param>
    /// <param name="dtype">Floating dtype of <see cref="InverseDegree"/> (that of the node features).</param>
    /// <param name="attributes">a_ij [E, B] or null.</param>
    /// <param name="validate">Check the index range and attribute shape (one reduction; off in hot loops that validated once).</param>
    public static EgnnEdges Create(Tensor edgeIndex, long numNodes, ScalarType dtype, Tensor? attributes = null, bool validate = true)
    {
        if (validate)
        {
            GraphValidation.CheckEdgeIndex("EgnnEdges", edgeIndex, numNodes);
            if (attributes is not null && (attributes.dim() != 2 || attributes.shape[0] != edgeIndex.shape[1]))
                throw new GraphValidationException(
                    $"EgnnEdges: edge attributes have shape {GraphValidation.Shape(attributes)}; expected [E = {edgeIndex.shape[1]}, B].");
        }
        var source = edgeIndex[0];
        var target = edgeIndex[1];
        var pairs = edgeIndex.flip(0).t().reshape(-1);
        var splitPairs = (pairs * 2).view(-1, 2).add_(torch.tensor(new long[] { 0, 1 }, device: edgeIndex.device)).view(-1);
        var inv = torch.bincount(target, minlength: numNodes).clamp_min(1).to_type(dtype).reciprocal_().unsqueeze(1);
        return new EgnnEdges(source, target, pairs, splitPairs, inv, numNodes, attributes);
    }
}

/// <summary>
/// E(n)-equivariant graph convolution (Satorras, Hoogeboom, Welling 2021), one layer:
/// <code>
/// m_ij = φ_e(h_i, h_j, |x_i − x_j|², a_ij)                         (two Linear+SiLU)
/// m_ij ← m_ij · sigmoid(Linear(m_ij))                               (optional attention)
/// x_i' = x_i + C · AGG_j clamp((x_i − x_j) φ_x(m_ij))               (AGG mean or sum)
/// x_i' ← x_i' + φ_v(h_i) v_i                                        (optional velocity term)
/// h_i' = h_i + φ_h(h_i, SUM_j m_ij)                                 (residual optional)
/// </code>
/// φ_x = Linear → SiLU → Linear(bias-free, Xavier-uniform gain 0.001); φ_v = Linear → SiLU → Linear(1);
/// φ_h = Linear → SiLU → Linear. The output h is E(n)-invariant and x equivariant (rotations,
/// reflections, translations; permutations of the nodes) because φ only sees invariants and x moves
/// along relative positions and velocities.
/// </summary>
/// <remarks>Speed: the first linear layer of φ_e is applied per node, not per edge:
/// W [h_i, h_j, r, a] + b = (W_i h)_i + (W_j h)_j + W_ra [r, a] + b, computed as one matmul of h
/// [N, F] with [W_i; W_j] (N rows instead of E, 4x fewer multiply-adds on a fully connected
/// 5-node system), one <c>index_select</c> over <see cref="EgnnEdges.SplitPairs"/> and a tiny
/// matmul for [r, a]. The parameters are those of the plain layer (one Linear(2F + 1 + B, H)).
/// Aggregation uses <c>index_add</c>; the mean multiplies by the precomputed inverse degree.</remarks>
public sealed class EgnnLayer : nn.Module
{
    /// <summary>The scalar 1 (index_add's alpha), allocated once: a Scalar is a native object.</summary>
    internal static readonly Scalar One = 1;

    private readonly Linear edge1, edge2, node1, node2;
    private readonly Linear? coord1, coord2, vel1, vel2, att;

    /// <summary>Creates the layer.</summary>
    public EgnnLayer(EgnnLayerOptions options, string name = nameof(EgnnLayer)) : base(name)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.InChannels < 1 || options.Hidden < 1 || options.Out < 1 || options.EdgeChannels < 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"EgnnLayer: channel counts must be positive (in {options.InChannels}, hidden {options.Hidden}, out {options.Out}, edge {options.EdgeChannels}).");
        if (options.Residual && options.Out != options.InChannels)
            throw new ArgumentException($"EgnnLayer: a residual update needs OutChannels = InChannels ({options.Out} ≠ {options.InChannels}).", nameof(options));
        if (options.CoordinateAggregation is not (Aggregation.Aggregation.Sum or Aggregation.Aggregation.Mean))
            throw new ArgumentException($"EgnnLayer: coordinate aggregation must be Sum or Mean, got {options.CoordinateAggregation}.", nameof(options));
        if (options.CoordinateClamp is { } c && !(c > 0))
            throw new ArgumentOutOfRangeException(nameof(options), c, "EgnnLayer: CoordinateClamp must be positive.");
        long h = options.Hidden;
        edge1 = nn.Linear(2 * options.InChannels + 1 + options.EdgeChannels, h);
        edge2 = nn.Linear(h, h);
        node1 = nn.Linear(options.InChannels + h, h);
        node2 = nn.Linear(h, options.Out);
        if (options.UpdateCoordinates)
        {
            coord1 = nn.Linear(h, h);
            coord2 = nn.Linear(h, 1, hasBias: false);
            using (torch.no_grad())
                nn.init.xavier_uniform_(coord2.weight!, options.CoordinateInitGain);
            if (options.UseVelocity)
            {
                vel1 = nn.Linear(options.InChannels, h);
                vel2 = nn.Linear(h, 1);
            }
        }
        if (options.Attention) att = nn.Linear(h, 1);
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public EgnnLayerOptions Options { get; }

    /// <summary>
    /// SiLU(<c>linear.forward(cat[h_i, h_j, rest_ij])</c>) for every edge [E, H], computed with the
    /// node-level factorisation (see the remarks of <see cref="EgnnLayer"/>): h W_i and h W_j per node,
    /// rest W_r + b per edge. On CPU float32/float64 the gather of the per-node halves, their sum with
    /// the per-edge part and the activation run as one fused kernel (<see cref="PairSiluFunction"/>),
    /// forward and backward; elsewhere, or with <see cref="UseFusedKernels"/> off, the composite.
    /// </summary>
    /// <param name="linear">Linear(2F + R, H) with bias.</param>
    /// <param name="h">Node features [N, F].</param>
    /// <param name="rest">Edge inputs [E, R] appended after [h_i, h_j].</param>
    /// <param name="edges">The edges.</param>
    internal static Tensor PairLinearSilu(Linear linear, Tensor h, Tensor rest, EgnnEdges edges)
    {
        var w = linear.weight!;
        long hidden = w.shape[0], f = h.shape[1];
        // [H, 2F] → [2H, F] with rows (W_i; W_j), so that h W^T is [N, 2H] = [h W_i^T, h W_j^T].
        var wPair = w.narrow(1, 0, 2 * f).reshape(hidden, 2, f).transpose(0, 1).reshape(2 * hidden, f);
        var perNode = h.matmul(wPair.t()).view(-1, hidden);                  // [2N, H]
        var perEdge = nn.functional.linear(rest, w.narrow(1, 2 * f, w.shape[1] - 2 * f), linear.bias);
        return PairSilu(perNode, perEdge, edges.SplitPairs);
    }

    /// <summary>
    /// SiLU(P[pairs[2e]] + P[pairs[2e+1]] + R[e]) for every edge e: the first edge layer of EGNN from its
    /// per-node halves P [2N, H] and per-edge part R [E, H]. Fused kernel on CPU float32/float64 when
    /// <see cref="UseFusedKernels"/> is on (an index outside P throws), libtorch operations otherwise.
    /// </summary>
    public static Tensor PairSilu(Tensor perNode, Tensor perEdge, Tensor pairs) =>
        UseFusedKernels && PairSiluFunction.Supports(perNode, perEdge, pairs)
            ? PairSiluFunction.Apply(perNode, perEdge, pairs)
            : PairSiluFunction.Composite(perNode, perEdge, pairs);

    /// <summary>
    /// The attention-gated message m · σ(m Wᵀ + b) with m = SiLU(y), for y [E, H] and an attention
    /// layer Linear(H, 1) (W [1, H], b [1]). Fused kernel on CPU float32/float64 when
    /// <see cref="UseFusedKernels"/> is on, libtorch operations otherwise.
    /// </summary>
    public static Tensor SiluGate(Tensor y, Tensor weight, Tensor? bias) =>
        UseFusedKernels && SiluGateFunction.Supports(y, weight, bias)
            ? SiluGateFunction.Apply(y, weight, bias!)
            : SiluGateFunction.Composite(y, weight, bias);

    /// <summary>
    /// Whether EGNN-style layers use the fused CPU kernels (<see cref="PairSilu"/>, <see cref="SiluGate"/>; default true;
    /// turn off to compare with the composite of libtorch operations). Process-wide.
    /// </summary>
    public static bool UseFusedKernels { get; set; } = true;

    /// <summary>
    /// Runs the layer. <paramref name="h"/> [N, F_in], <paramref name="x"/> [N, d],
    /// <paramref name="velocity"/> [N, d] (only with <see cref="EgnnLayerOptions.UseVelocity"/>).
    /// Returns the new features [N, F_out] and coordinates [N, d] (unchanged when coordinates are not updated).
    /// </summary>
    public (Tensor H, Tensor X) forward(Tensor h, Tensor x, EgnnEdges edges, Tensor? velocity = null)
    {
        ArgumentNullException.ThrowIfNull(edges);
        long n = edges.NumNodes;
        if (h.dim() != 2 || h.shape[0] != n || h.shape[1] != Options.InChannels)
            throw new ArgumentException($"{GetName()}: node features have shape {GraphValidation.Shape(h)}; expected [N = {n}, {Options.InChannels}].", nameof(h));
        if (x.dim() != 2 || x.shape[0] != n)
            throw new ArgumentException($"{GetName()}: coordinates have shape {GraphValidation.Shape(x)}; expected [N = {n}, d].", nameof(x));
        long d = x.shape[1];
        if (Options.EdgeChannels > 0 && (edges.Attributes is null || edges.Attributes.shape[1] != Options.EdgeChannels))
            throw new ArgumentException($"{GetName()}: expected edge attributes [E, {Options.EdgeChannels}], got {(edges.Attributes is null ? "none" : GraphValidation.Shape(edges.Attributes))}.", nameof(edges));
        if (Options.UseVelocity && Options.UpdateCoordinates)
        {
            if (velocity is null)
                throw new ArgumentException($"{GetName()}: UseVelocity is on but no velocity was given.", nameof(velocity));
            if (!velocity.shape.SequenceEqual(x.shape))
                throw new ArgumentException($"{GetName()}: velocity has shape {GraphValidation.Shape(velocity)}; expected that of x, {GraphValidation.Shape(x)}.", nameof(velocity));
        }

        var diff = edges.Differences(x);                          // x_i − x_j  [E, d]
        var radial = diff.square().sum(1, keepdim: true);         // |x_i − x_j|²  [E, 1]
        var rest = Options.EdgeChannels > 0 ? torch.cat(new[] { radial, edges.Attributes! }, 1) : radial;
        var y = edge2.forward(PairLinearSilu(edge1, h, rest, edges));
        var m = att is null ? nn.functional.silu(y) : SiluGate(y, att.weight!, att.bias);

        var xOut = x;
        if (Options.UpdateCoordinates)
        {
            if (Options.NormalizeDifference) diff = diff / (radial.sqrt() + Options.NormEpsilon);
            var phi = coord2!.forward(nn.functional.silu(coord1!.forward(m)));
            if (Options.Tanh) phi = torch.tanh(phi) * Options.CoordinateRange;
            var trans = diff * phi;
            if (Options.CoordinateClamp is { } c) trans = trans.clamp(-c, c);
            var agg = torch.zeros(n, d, dtype: x.dtype, device: x.device).index_add_(0, edges.Target, trans, One);
            double w = Options.CoordinateWeight;
            if (Options.CoordinateAggregation == Aggregation.Aggregation.Mean)
                xOut = w == 1.0 ? x + agg * edges.InverseDegree : x + agg * edges.InverseDegree * w;
            else
                xOut = w == 1.0 ? x + agg : x + agg * w;
            if (vel1 is not null)
                xOut = xOut + vel2!.forward(nn.functional.silu(vel1.forward(h))) * velocity!;
        }

        var aggM = torch.zeros(n, Options.Hidden, dtype: m.dtype, device: m.device).index_add_(0, edges.Target, m, One);
        var hOut = node2.forward(nn.functional.silu(node1.forward(torch.cat(new[] { h, aggM }, 1))));
        if (Options.Residual) hOut = h + hOut;
        return (hOut, xOut);
    }
}
