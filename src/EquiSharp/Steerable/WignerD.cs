using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Real Wigner D matrices in the spherical-harmonics basis of <see cref="SphericalHarmonics"/>: the
/// unique D^l(R) with Y_l(R x) = D^l(R) Y_l(x), for any degree, batched and differentiable in R.
/// </summary>
/// <remarks>
/// D^l(R) is solved from the harmonics themselves: at a fixed well-conditioned set of K = 2(2l + 1)
/// unit points x_k, Y_l(R x_k) = D Y_l(x_k), so D = (A⁺ Y_l(X Rᵀ))ᵀ with A = Y_l(X) [K, 2l + 1] and its
/// pseudo-inverse A⁺ computed once in float64 and cached. For a reflection R this gives the
/// harmonics' own parity, D^l(−I) = (−1)^l; <see cref="Irrep(Steerable.Irrep, Tensor)"/> applies an
/// irrep's parity instead.
/// </remarks>
public static class WignerD
{
    private static readonly Dictionary<int, (Tensor Points, Tensor Pinv)> Cache = new();
    private static readonly object Gate = new();

    /// <summary>
    /// D^l(R) [..., 2l + 1, 2l + 1] of the spherical harmonics for orthogonal <paramref name="r"/> [..., 3, 3]
    /// (for det R = −1 this includes the factor (−1)^l). Computed in float64, returned in R's dtype.
    /// </summary>
    public static Tensor Matrix(int l, Tensor r)
    {
        if (l < 0) throw new ArgumentOutOfRangeException(nameof(l), l, "The degree must be non-negative.");
        ArgumentNullException.ThrowIfNull(r);
        if (r.dim() < 2 || r.shape[^1] != 3 || r.shape[^2] != 3 || !r.is_floating_point())
            throw new ArgumentException($"Expected floating point 3x3 matrices [..., 3, 3], got {GraphValidation.Shape(r)} ({r.dtype}).", nameof(r));
        using var scope = torch.NewDisposeScope();
        var r64 = r.to(ScalarType.Float64);
        if (l == 0)
            return torch.ones(r.shape[..^2].Concat(new long[] { 1, 1 }).ToArray(), dtype: r.dtype, device: r.device).MoveToOuterDisposeScope();
        var (points, pinv) = Basis(l);
        points = points.to(r64.device);
        pinv = pinv.to(r64.device);
        var rotated = points.matmul(r64.transpose(-1, -2)); // [..., K, 3]: R x_k as rows
        var y = SphericalHarmonics.Compute(new[] { l }, rotated, normalize: false); // [..., K, 2l + 1]
        var d = pinv.matmul(y).transpose(-1, -2);
        return d.to(r.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>D(R) of <paramref name="irrep"/>: parity^[det R = −1] · D^l(R_proper) [..., 2l + 1, 2l + 1].</summary>
    public static Tensor Irrep(Irrep irrep, Tensor r)
    {
        using var scope = torch.NewDisposeScope();
        var d = Matrix(irrep.L, r);
        if (irrep.P != Steerable.Irrep.SphericalHarmonic(irrep.L).P)
        {
            // Matrix already carries (−1)^l for reflections; multiply by p · (−1)^l = −1 on them.
            var sign = torch.where(torch.linalg.det(r.detach().to(ScalarType.Float64)) < 0, -1.0, 1.0).to(d.dtype);
            d = d * sign.unsqueeze(-1).unsqueeze(-1);
        }
        return d.MoveToOuterDisposeScope();
    }

    /// <summary>D^l for e3nn Euler angles, R = Y(α) X(β) Y(γ).</summary>
    public static Tensor FromAngles(int l, Tensor alpha, Tensor beta, Tensor gamma)
    {
        using var scope = torch.NewDisposeScope();
        return Matrix(l, Rotations.EulerAnglesToMatrix(alpha, beta, gamma)).MoveToOuterDisposeScope();
    }

    /// <summary>D^l for unit quaternions (w, x, y, z) [..., 4].</summary>
    public static Tensor FromQuaternion(int l, Tensor q)
    {
        using var scope = torch.NewDisposeScope();
        return Matrix(l, Rotations.QuaternionToMatrix(q)).MoveToOuterDisposeScope();
    }

    private static (Tensor Points, Tensor Pinv) Basis(int l)
    {
        lock (Gate)
        {
            if (Cache.TryGetValue(l, out var cached)) return cached;
            using var scope = torch.NewDisposeScope();
            int k = 2 * (2 * l + 1);
            // Fixed pseudo-random points: generic positions make A well conditioned for every degree.
            var gen = new Generator((ulong)(9173 + l));
            var points = torch.randn(new long[] { k, 3 }, dtype: ScalarType.Float64, generator: gen);
            points = points / points.norm(1, keepdim: true);
            var a = SphericalHarmonics.Compute(new[] { l }, points, normalize: false);
            var pinv = torch.linalg.pinv(a);
            var entry = (points.DetachFromDisposeScope(), pinv.DetachFromDisposeScope());
            Cache[l] = entry;
            return entry;
        }
    }
}
