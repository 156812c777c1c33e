using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>
/// Gilmer et al.'s edge network convolution (NNConv): a network maps each edge's attributes a_ij
/// to a matrix A(a_ij) [in, out] applied to the neighbour's features,
/// m_ij = f_j A(a_ij); f'_i = f_i Θ + AGG_j m_ij + b.
/// </summary>
/// <remarks>The edge network is Linear(B, hidden) → ReLU → Linear(hidden, in·out). Memory is
/// O(E · in · out) for the per-edge matrices, as in the reference.</remarks>
public sealed class EdgeNetworkConv : MessagePassingLayer
{
    private readonly Sequential edgeNetwork;
    private readonly Linear root;
    private readonly Parameter bias;

    /// <summary>Creates the layer.</summary>
    /// <param name="inChannels">Node feature size F_in.</param>
    /// <param name="outChannels">Output feature size F_out.</param>
    /// <param name="edgeChannels">Edge attribute size B.</param>
    /// <param name="edgeHidden">Hidden width of the edge network.</param>
    /// <param name="aggregation">Aggregation of messages (Gilmer: sum; PyG's QM9 example: mean).</param>
    public EdgeNetworkConv(long inChannels, long outChannels, long edgeChannels, long edgeHidden = 128,
        Aggregation.Aggregation aggregation = Aggregation.Aggregation.Mean) : base(nameof(EdgeNetworkConv), aggregation)
    {
        if (inChannels < 1 || outChannels < 1 || edgeChannels < 1 || edgeHidden < 1)
            throw new ArgumentOutOfRangeException(nameof(inChannels), "All channel counts must be positive.");
        InChannels = inChannels;
        OutChannels = outChannels;
        EdgeChannels = edgeChannels;
        edgeNetwork = nn.Sequential(nn.Linear(edgeChannels, edgeHidden), nn.ReLU(), nn.Linear(edgeHidden, inChannels * outChannels));
        root = nn.Linear(inChannels, outChannels, hasBias: false);
        bias = nn.Parameter(torch.zeros(outChannels));
        RegisterComponents();
    }

    /// <summary>Input feature size.</summary>
    public long InChannels { get; }

    /// <summary>Output feature size.</summary>
    public long OutChannels { get; }

    /// <summary>Edge attribute size.</summary>
    public long EdgeChannels { get; }

    /// <summary>
    /// The per-edge matrices A(a_ij) [E, in, out] of edge attributes [E, B]. A model that runs the same
    /// layer several times on the same edges (Gilmer's shared-weight steps) computes them once and passes
    /// them to <see cref="forward(Tensor, EdgeContext, Tensor)"/>: the edge network dominates the cost.
    /// </summary>
    public Tensor Matrices(Tensor attributes)
    {
        if (attributes.dim() != 2 || attributes.shape[1] != EdgeChannels)
            throw new ArgumentException($"EdgeNetworkConv: edge attributes have shape [{string.Join(", ", attributes.shape)}]; expected [E, {EdgeChannels}].", nameof(attributes));
        return edgeNetwork.forward(attributes).view(-1, InChannels, OutChannels);
    }

    /// <summary>The layer with precomputed edge matrices (from <see cref="Matrices"/> of the same edges' attributes).</summary>
    public Tensor forward(Tensor nodeFeatures, EdgeContext edges, Tensor matrices)
    {
        if (matrices.dim() != 3 || matrices.shape[0] != edges.NumEdges || matrices.shape[1] != InChannels || matrices.shape[2] != OutChannels)
            throw new ArgumentException($"EdgeNetworkConv: edge matrices have shape [{string.Join(", ", matrices.shape)}]; expected [E = {edges.NumEdges}, {InChannels}, {OutChannels}].", nameof(matrices));
        var source = edges.GatherSource(nodeFeatures);
        return Update(nodeFeatures, Aggregate(Apply(source, matrices), edges));
    }

    /// <inheritdoc />
    protected override Tensor Message(Tensor target, Tensor source, EdgeContext edges)
    {
        var attributes = edges.Attributes
            ?? throw new ArgumentException("EdgeNetworkConv needs edge attributes a_ij [E, B]; the edge context has none.", nameof(edges));
        return Apply(source, Matrices(attributes));
    }

    private Tensor Apply(Tensor source, Tensor matrices)
    {
        if (source.shape[1] != InChannels)
            throw new ArgumentException($"EdgeNetworkConv: node features have {source.shape[1]} channels; expected {InChannels}.");
        return torch.bmm(source.unsqueeze(1), matrices).squeeze(1);
    }

    /// <inheritdoc />
    protected override Tensor Update(Tensor nodeFeatures, Tensor aggregated) => aggregated + root.forward(nodeFeatures) + bias;
}
