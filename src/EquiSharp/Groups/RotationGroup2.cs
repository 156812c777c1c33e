using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Groups;

/// <summary>SO(2) acting on R² by rotation: algebra coordinate the angle θ; Log = atan2(R₁₀, R₀₀) ∈ (−π, π]. Orbits are circles (identifier |x|); stabilisers are trivial.</summary>
public sealed class SO2 : LieGroup
{
    /// <summary>Shared instance.</summary>
    public static SO2 Instance { get; } = new();

    /// <inheritdoc />
    public override string Name => "SO(2)";
    /// <inheritdoc />
    public override int SpaceDimension => 2;
    /// <inheritdoc />
    public override int AlgebraDimension => 1;
    /// <inheritdoc />
    public override int MatrixSize => 2;
    /// <inheritdoc />
    public override int OrbitDimension => 1;
    /// <inheritdoc />
    public override bool HasStabiliser => false;
    /// <inheritdoc />
    public override int RotationCoordinates => 1;

    /// <summary>Rotation matrices [..., 2, 2] of angles [...].</summary>
    internal static Tensor Rotation(Tensor angle)
    {
        var c = angle.cos(); var s = angle.sin();
        return Matrices(torch.stack(new[] { c, -s, s, c }, -1), 2);
    }

    /// <inheritdoc />
    public override Tensor Exp(Tensor algebra)
    {
        CheckLast(algebra, 1, "angles");
        return Rotation(algebra.squeeze(-1));
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor elements)
    {
        CheckMatrix(elements);
        return torch.atan2(elements[TensorIndex.Ellipsis, 1, 0], elements[TensorIndex.Ellipsis, 0, 0]).unsqueeze(-1);
    }

    /// <inheritdoc />
    public override Tensor Inverse(Tensor elements) => elements.transpose(-1, -2);

    /// <inheritdoc />
    public override Tensor Act(Tensor elements, Tensor points) => elements.matmul(points.unsqueeze(-1)).squeeze(-1);

    /// <summary>Lifts x to the rotation taking |x| e_x to x (the identity for x = 0); orbit = |x|. Stabiliser samples are ignored (trivial stabiliser).</summary>
    public override (Tensor Elements, Tensor Orbits) Lift(Tensor points, Tensor? stabiliser = null)
    {
        CheckLast(points, 2, "points");
        var angle = torch.atan2(points[TensorIndex.Ellipsis, 1], points[TensorIndex.Ellipsis, 0]);
        return (Rotation(angle).unsqueeze(-3), points.norm(-1, keepdim: true));
    }
}

/// <summary>
/// SE(2) = R² ⋊ SO(2) as homogeneous 3×3 matrices; algebra (θ, u). Exp: t = V u with V = [[A, −B], [B, A]],
/// A = sin θ/θ, B = (1 − cos θ)/θ (series near 0); Log inverts V (A² + B² &gt; 0 for |θ| ≤ π). Transitive on R²;
/// the stabiliser of a point is SO(2).
/// </summary>
public sealed class SE2 : LieGroup
{
    /// <summary>Shared instance.</summary>
    public static SE2 Instance { get; } = new();

    /// <inheritdoc />
    public override string Name => "SE(2)";
    /// <inheritdoc />
    public override int SpaceDimension => 2;
    /// <inheritdoc />
    public override int AlgebraDimension => 3;
    /// <inheritdoc />
    public override int MatrixSize => 3;
    /// <inheritdoc />
    public override int OrbitDimension => 0;
    /// <inheritdoc />
    public override bool HasStabiliser => true;
    /// <inheritdoc />
    public override int RotationCoordinates => 1;

    private static (Tensor A, Tensor B) Coefficients(Tensor theta) => (
        Safe(theta, t => t.sin() / t, t => 1 - t.square() / 6 + t.pow(4) / 120),
        Safe(theta, t => (1 - t.cos()) / t, t => t / 2 - t.pow(3) / 24 + t.pow(5) / 720));

    /// <inheritdoc />
    public override Tensor Exp(Tensor algebra)
    {
        CheckLast(algebra, 3, "algebra coordinates");
        var theta = algebra[TensorIndex.Ellipsis, 0];
        var u = algebra[TensorIndex.Ellipsis, 1..];
        var (a, b) = Coefficients(theta);
        var v = Matrices(torch.stack(new[] { a, -b, b, a }, -1), 2);
        return Homogeneous(SO2.Rotation(theta), v.matmul(u.unsqueeze(-1)).squeeze(-1));
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor elements)
    {
        CheckMatrix(elements);
        var (r, t) = Split(elements);
        var theta = torch.atan2(r[TensorIndex.Ellipsis, 1, 0], r[TensorIndex.Ellipsis, 0, 0]);
        var (a, b) = Coefficients(theta);
        var det = a.square() + b.square();
        var vinv = Matrices(torch.stack(new[] { a, b, -b, a }, -1), 2) / det.unsqueeze(-1).unsqueeze(-1);
        return torch.cat(new[] { theta.unsqueeze(-1), vinv.matmul(t.unsqueeze(-1)).squeeze(-1) }, -1);
    }

    /// <inheritdoc />
    public override Tensor Inverse(Tensor elements) => RigidInverse(elements);

    /// <inheritdoc />
    public override Tensor Act(Tensor elements, Tensor points)
    {
        var (r, t) = Split(elements);
        return r.matmul(points.unsqueeze(-1)).squeeze(-1) + t;
    }

    /// <summary>Lifts x to (h_s, x) for the stabiliser rotations h_s [S, 2, 2] (default: the identity); no orbit identifiers.</summary>
    public override (Tensor Elements, Tensor Orbits) Lift(Tensor points, Tensor? stabiliser = null)
    {
        CheckLast(points, 2, "points");
        stabiliser ??= torch.eye(2, dtype: points.dtype, device: points.device).unsqueeze(0);
        long n = points.shape[0], s = stabiliser.shape[0];
        var r = stabiliser.to(points.dtype, points.device).unsqueeze(0).expand(n, s, 2, 2);
        var t = points.unsqueeze(1).expand(n, s, 2);
        return (Homogeneous(r, t), torch.zeros(n, 0, dtype: points.dtype, device: points.device));
    }
}
