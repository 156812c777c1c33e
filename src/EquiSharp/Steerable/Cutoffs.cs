using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>Smooth cutoff envelopes f(r) with f(0) = 1 and f(r) = 0 for r ≥ c.</summary>
public static class Cutoffs
{
    /// <summary>0.5 (cos(π r / c) + 1) for r &lt; c, else 0 (continuous first derivative).</summary>
    public static Tensor Cosine(Tensor r, double cutoff)
    {
        RadialChecks.CheckDistances(r);
        using var scope = torch.NewDisposeScope();
        var inside = r < cutoff;
        var value = 0.5 * ((r * (Math.PI / cutoff)).cos() + 1);
        return torch.where(inside, value, torch.zeros_like(r)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The DimeNet polynomial envelope of order p (default 6) in u = r / c:
    /// 1 − (p+1)(p+2)/2 u^p + p(p+2) u^(p+1) − p(p+1)/2 u^(p+2) for u &lt; 1, else 0; its first two
    /// derivatives vanish at the cutoff.
    /// </summary>
    public static Tensor Polynomial(Tensor r, double cutoff, int p = 6)
    {
        RadialChecks.CheckDistances(r);
        if (p < 1) throw new ArgumentOutOfRangeException(nameof(p), p, "The order must be positive.");
        using var scope = torch.NewDisposeScope();
        var u = r / cutoff;
        var up = u.pow(p);
        var value = 1 - (p + 1) * (p + 2) / 2.0 * up + p * (p + 2.0) * up * u - p * (p + 1) / 2.0 * up * u * u;
        return torch.where(u < 1, value, torch.zeros_like(r)).MoveToOuterDisposeScope();
    }
}

internal static class RadialChecks
{
    internal static void CheckDistances(Tensor r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (!r.is_floating_point()) throw new ArgumentException($"Distances must be floating point, got {GraphValidation.Shape(r)} ({r.dtype}).", nameof(r));
    }
}
