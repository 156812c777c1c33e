using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// The norm of every irrep copy (e3nn's o3.Norm): [..., Irreps.Dim] → [..., NumIrreps] invariant
/// scalars (0e), optionally squared. The norm is safe at zero (value 0, gradient 0).
/// </summary>
public sealed class IrrepsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the norm.</summary>
    public IrrepsNorm(Irreps irreps, bool squared = false) : base(nameof(IrrepsNorm))
    {
        Irreps = irreps ?? throw new ArgumentNullException(nameof(irreps));
        Squared = squared;
        RegisterComponents();
    }

    /// <summary>Input irreps.</summary>
    public Irreps Irreps { get; }

    /// <summary>Whether squared norms are returned.</summary>
    public bool Squared { get; }

    /// <summary>Output irreps: NumIrreps x 0e.</summary>
    public Irreps IrrepsOut => new((Irreps.NumIrreps, new Irrep(0, 1)));

    /// <summary>x [..., Irreps.Dim] → norms [..., NumIrreps].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var (flat, lead) = Irreps.Flatten(x);
        long n = flat.shape[0];
        var pieces = new List<Tensor>();
        for (int i = 0; i < Irreps.Count; i++)
        {
            var (s, e) = Irreps.Slice(i);
            if (e == s) continue;
            pieces.Add(flat.narrow(1, s, e - s).view(n, Irreps[i].Mul, Irreps[i].Irrep.Dim).pow(2).sum(-1));
        }
        var sq = pieces.Count == 0 ? torch.zeros(new[] { n, 0L }, dtype: x.dtype, device: x.device) : torch.cat(pieces, 1);
        var result = Squared ? sq : SafeSqrt(sq);
        return result.reshape(lead.Append(Irreps.NumIrreps).ToArray()).MoveToOuterDisposeScope();
    }

    /// <summary>sqrt with value 0 and gradient 0 at 0.</summary>
    internal static Tensor SafeSqrt(Tensor squared)
    {
        var positive = squared > 0;
        return torch.where(positive, torch.where(positive, squared, torch.ones_like(squared)).sqrt(), torch.zeros_like(squared));
    }
}
