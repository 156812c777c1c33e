using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// The equivariant linear map between irreps (e3nn's o3.Linear): every output block mixes the
/// multiplicity channels of all input blocks of the same irrep, out_w = Σ_u W_uw x_u / sqrt(fan-in),
/// with N(0, 1) weights; an optional bias is added to 0e outputs only (the only equivariant bias).
/// Output blocks with no matching input are zero (plus their bias).
/// </summary>
public sealed class EquivariantLinear : nn.Module<Tensor, Tensor>
{
    private readonly (int In, int Out, long Offset, double Coefficient)[] _paths;
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly int[] _biasOffsets;

    /// <summary>Creates the map; <paramref name="biases"/> adds learnable biases (zero initialised) to the 0e outputs.</summary>
    public EquivariantLinear(Irreps irrepsIn, Irreps irrepsOut, bool biases = false) : base(nameof(EquivariantLinear))
    {
        IrrepsIn = irrepsIn ?? throw new ArgumentNullException(nameof(irrepsIn));
        IrrepsOut = irrepsOut ?? throw new ArgumentNullException(nameof(irrepsOut));
        var paths = new List<(int, int, long, double)>();
        long offset = 0;
        for (int o = 0; o < irrepsOut.Count; o++)
        {
            var sources = Enumerable.Range(0, irrepsIn.Count).Where(i => irrepsIn[i].Irrep == irrepsOut[o].Irrep && irrepsIn[i].Mul > 0).ToArray();
            int fanIn = sources.Sum(i => irrepsIn[i].Mul);
            foreach (var i in sources)
            {
                paths.Add((i, o, offset, 1 / Math.Sqrt(fanIn)));
                offset += (long)irrepsIn[i].Mul * irrepsOut[o].Mul;
            }
        }
        _paths = paths.ToArray();
        WeightNumel = offset;
        weight = new Parameter(torch.randn(Math.Max(offset, 0)));
        _biasOffsets = new int[irrepsOut.Count];
        int biasCount = 0;
        for (int o = 0; o < irrepsOut.Count; o++)
        {
            _biasOffsets[o] = biasCount;
            if (biases && irrepsOut[o].Irrep.IsScalar) biasCount += irrepsOut[o].Mul;
        }
        if (biasCount > 0) bias = new Parameter(torch.zeros(biasCount));
        RegisterComponents();
    }

    /// <summary>Input irreps.</summary>
    public Irreps IrrepsIn { get; }

    /// <summary>Output irreps.</summary>
    public Irreps IrrepsOut { get; }

    /// <summary>Number of weights (Σ mul_in · mul_out over matching blocks).</summary>
    public long WeightNumel { get; }

    /// <summary>The weights, path after path, each [mul_in, mul_out] row-major (e3nn's layout).</summary>
    public Parameter Weight => weight;

    /// <summary>The biases of the 0e outputs in order, or null.</summary>
    public Parameter? Bias => bias;

    /// <summary>x [..., IrrepsIn.Dim] → [..., IrrepsOut.Dim].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var (flat, lead) = IrrepsIn.Flatten(x);
        long n = flat.shape[0];
        var w = weight.to(x.dtype, x.device);
        var outputs = new Tensor?[IrrepsOut.Count];
        foreach (var (i, o, offset, c) in _paths)
        {
            var (s, e) = IrrepsIn.Slice(i);
            int u = IrrepsIn[i].Mul, wo = IrrepsOut[o].Mul, d = IrrepsIn[i].Irrep.Dim;
            var block = flat.narrow(1, s, e - s).view(n, u, d);
            var wm = w.narrow(0, offset, (long)u * wo).view(u, wo) * c;
            var y = d == 1 ? block.view(n, u).matmul(wm).unsqueeze(-1) : block.transpose(1, 2).matmul(wm).transpose(1, 2);
            outputs[o] = outputs[o] is null ? y : outputs[o]!.add(y);
        }
        var pieces = new List<Tensor>();
        for (int o = 0; o < IrrepsOut.Count; o++)
        {
            var mi = IrrepsOut[o];
            if (mi.Dim == 0) continue;
            var y = outputs[o] ?? torch.zeros(new[] { n, mi.Mul, (long)mi.Irrep.Dim }, dtype: x.dtype, device: x.device);
            if (bias is not null && mi.Irrep.IsScalar)
                y = y + bias.to(x.dtype, x.device).narrow(0, _biasOffsets[o], mi.Mul).view(mi.Mul, 1);
            pieces.Add(y.reshape(n, mi.Dim));
        }
        var result = pieces.Count == 0 ? torch.zeros(new[] { n, 0L }, dtype: x.dtype, device: x.device) : torch.cat(pieces, 1);
        return result.reshape(lead.Append(IrrepsOut.Dim).ToArray()).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"EquivariantLinear({IrrepsIn} -> {IrrepsOut}, {WeightNumel} weights{(bias is null ? "" : ", biases")})";
}
