using EquiSharp.Aggregation;
using EquiSharp.Graphs;
using EquiSharp.Groups;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.GroupConv;

/// <summary>
/// Lie group convolution (LieConv, Finzi et al. 2020), depthwise-separable form: for lifted points a, b
/// (group elements g_a, g_b with orbit identifiers q_a, q_b),
/// <code>
///   f'_a = W · mean_(b ∈ N(a)) k(Log(g_a⁻¹ g_b), q_a, q_b, e_ab) ⊙ f_b + bias
/// </code>
/// with the kernel k an MLP (SiLU) on the Lie algebra, one weight per input channel, and W a linear map
/// to the output channels. The kernel input Log(g_a⁻¹ g_b) is invariant under left multiplication of
/// all elements by any group element, so the layer is exactly equivariant to the group acting on the
/// lifted elements; see <see cref="Pairs"/> for neighbourhoods by group distance.
/// </summary>
public sealed class LieConv : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Sequential kernel;
    private readonly Linear mix;

    /// <summary>Creates the layer.</summary>
    /// <param name="pairInputs">Width of the pair input (algebra dimension + 2 · orbit dimension + extra pair attributes).</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelHidden">Hidden width of the kernel MLP.</param>
    /// <param name="name">Module name.</param>
    public LieConv(int pairInputs, int inChannels, int outChannels, int kernelHidden = 32, string name = nameof(LieConv)) : base(name)
    {
        if (pairInputs < 1 || inChannels < 1 || outChannels < 1 || kernelHidden < 1)
            throw new ArgumentOutOfRangeException(nameof(pairInputs), $"LieConv sizes must be positive (pair inputs {pairInputs}, channels {inChannels} → {outChannels}, kernel hidden {kernelHidden}).");
        kernel = nn.Sequential(("linear1", nn.Linear(pairInputs, kernelHidden)), ("silu1", nn.SiLU()),
            ("linear2", nn.Linear(kernelHidden, kernelHidden)), ("silu2", nn.SiLU()), ("linear3", nn.Linear(kernelHidden, inChannels)));
        mix = nn.Linear(inChannels, outChannels);
        RegisterComponents();
    }

    /// <summary>Applies the convolution.</summary>
    /// <param name="features">Features of the lifted points [M, C_in].</param>
    /// <param name="pairInput">Kernel inputs of the pairs [P, pairInputs] (from <see cref="PairInput"/>).</param>
    /// <param name="pairs">Pairs [2, P]: row 0 the source b, row 1 the target a.</param>
    /// <returns>[M, C_out].</returns>
    public override Tensor forward(Tensor features, Tensor pairInput, Tensor pairs)
    {
        var weights = kernel.forward(pairInput);                                   // [P, C_in]
        var messages = features.index_select(0, pairs[0]) * weights;
        return mix.forward(Scatter.Mean(messages, pairs[1], features.shape[0]));
    }

    /// <summary>
    /// The kernel input of pairs: [Log(g_a⁻¹ g_b), q_a, q_b, extra] [P, k + 2q + e] for elements [M, m, m],
    /// orbit identifiers [M, q] and optional extra pair attributes [P, e].
    /// </summary>
    public static Tensor PairInput(LieGroup group, Tensor elements, Tensor orbits, Tensor pairs, Tensor? extra = null)
    {
        ArgumentNullException.ThrowIfNull(group);
        var ga = elements.index_select(0, pairs[1]);
        var gb = elements.index_select(0, pairs[0]);
        var parts = new List<Tensor> { group.Log(group.Compose(group.Inverse(ga), gb)) };
        if (orbits.shape[1] > 0)
        {
            parts.Add(orbits.index_select(0, pairs[1]));
            parts.Add(orbits.index_select(0, pairs[0]));
        }
        if (extra is not null) parts.Add(extra);
        return torch.cat(parts, 1);
    }

    /// <summary>
    /// Pairs of lifted points from a graph on the underlying points: lifted point (i, s) = i·S + s; for
    /// every edge j → i and every node i (its own samples), all sample pairs ((j, t) → (i, s)). When
    /// <paramref name="radius"/> is given, only pairs with group distance d(g_a, g_b) ≤ radius are kept
    /// (a neighbourhood by group distance; <paramref name="rotationWeight"/> weights the rotation part).
    /// Returns the lifted pairs [2, P] and, for each, the underlying edge (or −1 for a node's own samples).
    /// </summary>
    public static (Tensor Pairs, Tensor Edge) Pairs(Tensor edgeIndex, long nodes, long samples, LieGroup? group = null,
        Tensor? elements = null, double? radius = null, double rotationWeight = 1)
    {
        ArgumentNullException.ThrowIfNull(edgeIndex);
        if (edgeIndex.dim() != 2 || edgeIndex.shape[0] != 2)
            throw new GraphValidationException($"LieConv.Pairs: edge index has shape {GraphValidation.Shape(edgeIndex)}; expected [2, E].");
        var device = edgeIndex.device;
        var loops = torch.arange(nodes, dtype: ScalarType.Int64, device: device);
        var src = torch.cat(new[] { edgeIndex[0], loops });
        var dst = torch.cat(new[] { edgeIndex[1], loops });
        var edge = torch.cat(new[] { torch.arange(edgeIndex.shape[1], dtype: ScalarType.Int64, device: device), torch.full(nodes, -1L, device: device) });
        var s = torch.arange(samples, dtype: ScalarType.Int64, device: device);
        var t = s.view(-1, 1).expand(samples, samples).reshape(-1);          // target sample
        var u = s.view(1, -1).expand(samples, samples).reshape(-1);          // source sample
        var a = (dst.view(-1, 1) * samples + t.view(1, -1)).reshape(-1);
        var b = (src.view(-1, 1) * samples + u.view(1, -1)).reshape(-1);
        var e = edge.view(-1, 1).expand(edge.shape[0], samples * samples).reshape(-1);
        var pairs = torch.stack(new[] { b, a });
        if (radius is double r)
        {
            if (group is null || elements is null) throw new ArgumentException("A radius needs the group and the lifted elements.");
            var keep = group.Distance(elements.index_select(0, a), elements.index_select(0, b), rotationWeight) <= r;
            var index = keep.nonzero().view(-1);
            pairs = pairs.index_select(1, index);
            e = e.index_select(0, index);
        }
        return (pairs, e);
    }
}
