using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Equivariant layer normalisation over the multiplicity channels of each irreps block: 0e blocks are
/// centred over their channels; every block is divided by sqrt(mean over channels of |x_u|²/(2l+1) + eps)
/// (the root-mean-square component), then scaled per channel by a learnable weight; 0e channels get a
/// learnable bias. Norms and channel means are invariant, so the layer is equivariant.
/// </summary>
public sealed class EquivariantLayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter? weight, bias;
    private readonly int[] _biasOffsets;

    /// <summary>Creates the layer; <paramref name="affine"/> adds the per-channel weights (ones) and 0e biases (zeros).</summary>
    public EquivariantLayerNorm(Irreps irreps, double eps = 1e-5, bool affine = true) : base(nameof(EquivariantLayerNorm))
    {
        Irreps = irreps ?? throw new ArgumentNullException(nameof(irreps));
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive.");
        Eps = eps;
        _biasOffsets = new int[irreps.Count];
        int biases = 0;
        for (int i = 0; i < irreps.Count; i++)
        {
            _biasOffsets[i] = biases;
            if (irreps[i].Irrep.IsScalar) biases += irreps[i].Mul;
        }
        if (affine)
        {
            weight = new Parameter(torch.ones(irreps.NumIrreps));
            if (biases > 0) bias = new Parameter(torch.zeros(biases));
        }
        RegisterComponents();
    }

    /// <summary>The irreps.</summary>
    public Irreps Irreps { get; }

    /// <summary>The variance floor.</summary>
    public double Eps { get; }

    /// <summary>x [..., Irreps.Dim] → normalised, same shape.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var (flat, _) = Irreps.Flatten(x);
        long n = flat.shape[0];
        var pieces = new List<Tensor>();
        int channel = 0;
        for (int i = 0; i < Irreps.Count; channel += Irreps[i].Mul, i++)
        {
            var mi = Irreps[i];
            if (mi.Dim == 0) continue;
            var (s, e) = Irreps.Slice(i);
            var block = flat.narrow(1, s, e - s).view(n, mi.Mul, mi.Irrep.Dim);
            if (mi.Irrep.IsScalar) block = block - block.mean(new long[] { 1 }, keepdim: true);
            var meanSquare = block.pow(2).mean(new long[] { 1, 2 }, keepdim: true);
            var y = block * (meanSquare + Eps).rsqrt();
            if (weight is not null) y = y * weight.to(x.dtype, x.device).narrow(0, channel, mi.Mul).view(mi.Mul, 1);
            if (bias is not null && mi.Irrep.IsScalar) y = y + bias.to(x.dtype, x.device).narrow(0, _biasOffsets[i], mi.Mul).view(mi.Mul, 1);
            pieces.Add(y.reshape(n, mi.Dim));
        }
        var result = pieces.Count == 0 ? flat.clone() : torch.cat(pieces, 1);
        return result.reshape(x.shape).MoveToOuterDisposeScope();
    }
}
