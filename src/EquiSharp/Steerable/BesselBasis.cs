using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Bessel radial basis (DimeNet, NequIP): sqrt(2/c) sin(kπ r / c) / r for k = 1 … count, with its
/// limit sqrt(2/c) kπ/c at r = 0 (finite value and gradient). r [...] → [..., count].
/// </summary>
public sealed class BesselBasis : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the basis.</summary>
    public BesselBasis(int count, double cutoff) : base(nameof(BesselBasis))
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "At least one basis function is needed.");
        if (!(cutoff > 0)) throw new ArgumentOutOfRangeException(nameof(cutoff), cutoff, "cutoff must be positive.");
        Count = count; Cutoff = cutoff;
        RegisterComponents();
    }

    /// <summary>Number of basis functions.</summary>
    public int Count { get; }

    /// <summary>The cutoff radius c.</summary>
    public double Cutoff { get; }

    /// <summary>r [...] → [..., Count].</summary>
    public override Tensor forward(Tensor r)
    {
        RadialChecks.CheckDistances(r);
        using var scope = torch.NewDisposeScope();
        var k = torch.arange(1, Count + 1, dtype: r.dtype, device: r.device) * (Math.PI / Cutoff);
        var rr = r.unsqueeze(-1);
        var zero = rr == 0;
        var safe = torch.where(zero, torch.ones_like(rr), rr);
        var value = torch.where(zero, k.expand_as(k * safe), (k * safe).sin() / safe);
        return (value * Math.Sqrt(2 / Cutoff)).MoveToOuterDisposeScope();
    }
}
