using EquiSharp.Aggregation;
using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Equivariant instance normalisation (e3nn's BatchNorm with instance=True): statistics per graph of
/// a batch and per channel. 0e channels are centred by their mean over the graph's nodes; every
/// channel is divided by sqrt(mean over the graph's nodes of |x_u|²/(2l+1) + eps), then scaled by a
/// learnable weight; 0e channels get a learnable bias. Means of invariants over a graph's nodes are
/// invariant, so the layer is equivariant, and permutation-equivariant within each graph.
/// </summary>
public sealed class EquivariantInstanceNorm : nn.Module<Tensor, Tensor, long, Tensor>
{
    private readonly Parameter? weight, bias;

    /// <summary>Creates the layer; <paramref name="affine"/> adds per-channel weights (ones) and 0e biases (zeros).</summary>
    public EquivariantInstanceNorm(Irreps irreps, double eps = 1e-5, bool affine = true) : base(nameof(EquivariantInstanceNorm))
    {
        Irreps = irreps ?? throw new ArgumentNullException(nameof(irreps));
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive.");
        Eps = eps;
        if (affine)
        {
            weight = new Parameter(torch.ones(irreps.NumIrreps));
            int scalars = irreps.Where(b => b.Irrep.IsScalar).Sum(b => b.Mul);
            if (scalars > 0) bias = new Parameter(torch.zeros(scalars));
        }
        RegisterComponents();
    }

    /// <summary>The irreps.</summary>
    public Irreps Irreps { get; }

    /// <summary>The variance floor.</summary>
    public double Eps { get; }

    /// <summary>x [N, Irreps.Dim], the graph of every node [N] (int64), the number of graphs → normalised x.</summary>
    public override Tensor forward(Tensor x, Tensor batch, long numGraphs)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(batch);
        if (x.dim() != 2 || x.shape[1] != Irreps.Dim || batch.dim() != 1 || batch.shape[0] != x.shape[0])
            throw new GraphValidationException($"EquivariantInstanceNorm: x {GraphValidation.Shape(x)} and batch {GraphValidation.Shape(batch)} must be [N, {Irreps.Dim}] ('{Irreps}') and [N].");
        using var scope = torch.NewDisposeScope();
        long n = x.shape[0];
        var pieces = new List<Tensor>();
        int channel = 0, scalar = 0;
        for (int i = 0; i < Irreps.Count; channel += Irreps[i].Mul, i++)
        {
            var mi = Irreps[i];
            if (mi.Dim == 0) continue;
            var (s, e) = Irreps.Slice(i);
            var block = x.narrow(1, s, e - s).view(n, mi.Mul, mi.Irrep.Dim);
            if (mi.Irrep.IsScalar) block = block - Scatter.Mean(block, batch, numGraphs).index_select(0, batch);
            var meanSquare = Scatter.Mean(block.square().mean(new long[] { 2 }), batch, numGraphs); // [graphs, mul]
            var y = block * (meanSquare + Eps).rsqrt().index_select(0, batch).unsqueeze(-1);
            if (weight is not null) y = y * weight.to(x.dtype, x.device).narrow(0, channel, mi.Mul).view(mi.Mul, 1);
            if (bias is not null && mi.Irrep.IsScalar)
            {
                y = y + bias.to(x.dtype, x.device).narrow(0, scalar, mi.Mul).view(mi.Mul, 1);
                scalar += mi.Mul;
            }
            pieces.Add(y.reshape(n, mi.Dim));
        }
        var result = pieces.Count == 0 ? x.clone() : torch.cat(pieces, 1);
        return result.MoveToOuterDisposeScope();
    }
}
