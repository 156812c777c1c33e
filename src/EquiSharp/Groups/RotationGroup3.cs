using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Groups;

/// <summary>
/// SO(3) acting on R³ by rotation: algebra coordinates are rotation vectors ω (axis · angle). Exp is
/// Rodrigues' formula; Log uses θ = atan2(|vee(R − Rᵀ)|/2, (tr R − 1)/2) (well conditioned at every angle),
/// the series θ/(2 sin θ) ≈ ½ + θ²/12 near 0 and, near π, the axis from the symmetric part (R + Rᵀ)/2 =
/// cos θ I + (1 − cos θ) n nᵀ with its sign from vee(R − Rᵀ). Orbits are spheres (identifier |x|); the
/// stabiliser of a point is the SO(2) of rotations about it.
/// </summary>
public sealed class SO3 : LieGroup
{
    /// <summary>Shared instance.</summary>
    public static SO3 Instance { get; } = new();

    /// <inheritdoc />
    public override string Name => "SO(3)";
    /// <inheritdoc />
    public override int SpaceDimension => 3;
    /// <inheritdoc />
    public override int AlgebraDimension => 3;
    /// <inheritdoc />
    public override int MatrixSize => 3;
    /// <inheritdoc />
    public override int OrbitDimension => 1;
    /// <inheritdoc />
    public override bool HasStabiliser => true;
    /// <inheritdoc />
    public override int RotationCoordinates => 3;

    /// <summary>The skew matrix [ω]× [..., 3, 3] of vectors [..., 3].</summary>
    public static Tensor Hat(Tensor w)
    {
        var x = w[TensorIndex.Ellipsis, 0]; var y = w[TensorIndex.Ellipsis, 1]; var z = w[TensorIndex.Ellipsis, 2];
        var o = torch.zeros_like(x);
        return Matrices(torch.stack(new[] { o, -z, y, z, o, -x, -y, x, o }, -1), 3);
    }

    /// <summary>vee(M) = (M21, M02, M10) [..., 3] of matrices [..., 3, 3] (the inverse of <see cref="Hat"/> on skew matrices).</summary>
    public static Tensor Vee(Tensor m) => torch.stack(new[]
    {
        m[TensorIndex.Ellipsis, 2, 1], m[TensorIndex.Ellipsis, 0, 2], m[TensorIndex.Ellipsis, 1, 0],
    }, -1);

    /// <inheritdoc />
    public override Tensor Exp(Tensor algebra)
    {
        CheckLast(algebra, 3, "rotation vectors");
        var theta = algebra.norm(-1, keepdim: true).unsqueeze(-1);            // [..., 1, 1]
        var a = Safe(theta, t => t.sin() / t, t => 1 - t.square() / 6 + t.pow(4) / 120);
        var b = Safe(theta, t => (1 - t.cos()) / t.square(), t => 0.5 - t.square() / 24 + t.pow(4) / 720);
        var k = Hat(algebra);
        var eye = torch.eye(3, dtype: algebra.dtype, device: algebra.device);
        return eye + a * k + b * k.matmul(k);
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor elements)
    {
        CheckMatrix(elements);
        var r = elements;
        var v = Vee(r - r.transpose(-1, -2));                                   // 2 sin θ n
        var trace = r.diagonal(0, -2, -1).sum(-1);
        var sin = v.norm(-1, keepdim: false) / 2;
        var cos = (trace - 1) / 2;
        var theta = torch.atan2(sin, cos);                                       // [...] in [0, π]
        var t1 = theta.unsqueeze(-1);
        var factor = Safe(t1, t => t / (2 * t.sin()), t => 0.5 + t.square() / 12 + 7 * t.pow(4) / 720);
        var general = factor * v;
        // Near π: n nᵀ = (S − cos θ I)/(1 − cos θ), S = (R + Rᵀ)/2; take the column with the largest diagonal.
        var s = (r + r.transpose(-1, -2)) / 2;
        var eye = torch.eye(3, dtype: r.dtype, device: r.device);
        var nn = (s - cos.unsqueeze(-1).unsqueeze(-1) * eye) / (1 - cos).clamp_min(1e-12).unsqueeze(-1).unsqueeze(-1);
        var diag = nn.diagonal(0, -2, -1);
        var k = diag.argmax(-1, keepdim: true);                                 // [..., 1]
        var column = nn.gather(-1, k.unsqueeze(-2).expand(nn.shape[..^1].Append(1L).ToArray())).squeeze(-1); // [..., 3]
        var n = column / diag.gather(-1, k).clamp_min(1e-30).sqrt();
        var sign = torch.where((n * v).sum(-1, keepdim: true) < 0, -1.0, 1.0).to_type(r.dtype);
        var nearPi = sign * n * t1;
        return torch.where((cos < -0.9).unsqueeze(-1), nearPi, general);
    }

    /// <inheritdoc />
    public override Tensor Inverse(Tensor elements)
    {
        CheckMatrix(elements);
        return elements.transpose(-1, -2);
    }

    /// <inheritdoc />
    public override Tensor Act(Tensor elements, Tensor points) => elements.matmul(points.unsqueeze(-1)).squeeze(-1);

    /// <summary>
    /// Lifts x to g_x h_s, where g_x is the rotation taking e_z to x/|x| about the axis e_z × x (the
    /// identity for x = 0 or x ∥ e_z, a half turn about e_x for x ∥ −e_z) and h_s are stabiliser samples
    /// (rotations about e_z, e.g. <see cref="RotationGroups.Cyclic"/> embedded, or random angles); orbit = |x|.
    /// </summary>
    public override (Tensor Elements, Tensor Orbits) Lift(Tensor points, Tensor? stabiliser = null)
    {
        CheckLast(points, 3, "points");
        var radius = points.norm(-1, keepdim: true);
        var gx = AlignZ(points / radius.clamp_min(1e-30));
        stabiliser ??= torch.eye(3, dtype: points.dtype, device: points.device).unsqueeze(0);
        return (gx.unsqueeze(-3).matmul(stabiliser.to(points.dtype, points.device)), radius);
    }

    /// <summary>The rotation [..., 3, 3] taking e_z to the unit vectors u [..., 3] (minimal angle).</summary>
    internal static Tensor AlignZ(Tensor u)
    {
        var z = torch.tensor(new double[] { 0, 0, 1 }, dtype: u.dtype, device: u.device).expand_as(u);
        var axis = torch.linalg.cross(z, u);                      // sin θ · n
        var cos = u[TensorIndex.Ellipsis, 2].clamp(-1, 1);
        var angle = torch.atan2(axis.norm(-1, keepdim: false), cos);
        var n = axis / axis.norm(-1, keepdim: true).clamp_min(1e-30);
        var xAxis = torch.tensor(new double[] { 1, 0, 0 }, dtype: u.dtype, device: u.device).expand_as(u);
        var degenerate = (axis.norm(-1, keepdim: true) < 1e-12);
        n = torch.where(degenerate, xAxis, n);                    // x ∥ ±e_z: rotate about e_x (by 0 or π)
        return Instance.Exp(n * angle.unsqueeze(-1));
    }
}
