using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Groups;

/// <summary>
/// SE(3) = R³ ⋊ SO(3) as homogeneous 4×4 matrices; algebra (ω, u). Exp: R = exp(ω), t = V u with
/// V = I + B K + C K², B = (1 − cos θ)/θ², C = (θ − sin θ)/θ³; Log: ω = log R, u = V⁻¹ t with
/// V⁻¹ = I − K/2 + D K², D = (1 − θ sin θ / (2(1 − cos θ)))/θ² (all with series near 0; regular up to θ = π).
/// Transitive on R³; the stabiliser of a point is SO(3).
/// </summary>
public sealed class SE3 : LieGroup
{
    /// <summary>Shared instance.</summary>
    public static SE3 Instance { get; } = new();

    /// <inheritdoc />
    public override string Name => "SE(3)";
    /// <inheritdoc />
    public override int SpaceDimension => 3;
    /// <inheritdoc />
    public override int AlgebraDimension => 6;
    /// <inheritdoc />
    public override int MatrixSize => 4;
    /// <inheritdoc />
    public override int OrbitDimension => 0;
    /// <inheritdoc />
    public override bool HasStabiliser => true;
    /// <inheritdoc />
    public override int RotationCoordinates => 3;

    /// <inheritdoc />
    public override Tensor Exp(Tensor algebra)
    {
        CheckLast(algebra, 6, "algebra coordinates");
        var w = algebra[TensorIndex.Ellipsis, ..3];
        var u = algebra[TensorIndex.Ellipsis, 3..];
        var theta = w.norm(-1, keepdim: true).unsqueeze(-1);
        var b = Safe(theta, t => (1 - t.cos()) / t.square(), t => 0.5 - t.square() / 24 + t.pow(4) / 720);
        var c = Safe(theta, t => (t - t.sin()) / t.pow(3), t => 1.0 / 6 - t.square() / 120 + t.pow(4) / 5040);
        var k = SO3.Hat(w);
        var v = torch.eye(3, dtype: w.dtype, device: w.device) + b * k + c * k.matmul(k);
        return Homogeneous(SO3.Instance.Exp(w), v.matmul(u.unsqueeze(-1)).squeeze(-1));
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor elements)
    {
        CheckMatrix(elements);
        var (r, t) = Split(elements);
        var w = SO3.Instance.Log(r);
        var theta = w.norm(-1, keepdim: true).unsqueeze(-1);
        var d = Safe(theta, x => (1 - x * x.sin() / (2 * (1 - x.cos()))) / x.square(), x => 1.0 / 12 + x.square() / 720 + x.pow(4) / 30240);
        var k = SO3.Hat(w);
        var vinv = torch.eye(3, dtype: w.dtype, device: w.device) - k / 2 + d * k.matmul(k);
        return torch.cat(new[] { w, vinv.matmul(t.unsqueeze(-1)).squeeze(-1) }, -1);
    }

    /// <inheritdoc />
    public override Tensor Inverse(Tensor elements) => RigidInverse(elements);

    /// <inheritdoc />
    public override Tensor Act(Tensor elements, Tensor points)
    {
        var (r, t) = Split(elements);
        return r.matmul(points.unsqueeze(-1)).squeeze(-1) + t;
    }

    /// <summary>Lifts x to (h_s, x) for the stabiliser rotations h_s [S, 3, 3] (default: the identity); no orbit identifiers.</summary>
    public override (Tensor Elements, Tensor Orbits) Lift(Tensor points, Tensor? stabiliser = null)
    {
        CheckLast(points, 3, "points");
        stabiliser ??= torch.eye(3, dtype: points.dtype, device: points.device).unsqueeze(0);
        long n = points.shape[0], s = stabiliser.shape[0];
        var r = stabiliser.to(points.dtype, points.device).unsqueeze(0).expand(n, s, 3, 3);
        var t = points.unsqueeze(1).expand(n, s, 3);
        return (Homogeneous(r, t), torch.zeros(n, 0, dtype: points.dtype, device: points.device));
    }
}

/// <summary>The translation group T(d) as homogeneous (d+1)×(d+1) matrices; algebra = translation vector (Exp and Log are exact). Transitive on R^d, trivial stabiliser.</summary>
public sealed class TranslationGroup : LieGroup
{
    /// <summary>Creates T(<paramref name="dimension"/>).</summary>
    public TranslationGroup(int dimension)
    {
        SpaceDimension = dimension >= 1 ? dimension : throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Must be positive.");
    }

    /// <inheritdoc />
    public override string Name => $"T({SpaceDimension})";
    /// <inheritdoc />
    public override int SpaceDimension { get; }
    /// <inheritdoc />
    public override int AlgebraDimension => SpaceDimension;
    /// <inheritdoc />
    public override int MatrixSize => SpaceDimension + 1;
    /// <inheritdoc />
    public override int OrbitDimension => 0;
    /// <inheritdoc />
    public override bool HasStabiliser => false;
    /// <inheritdoc />
    public override int RotationCoordinates => 0;

    private Tensor Identity(Tensor like) => torch.eye(SpaceDimension, dtype: like.dtype, device: like.device).expand(like.shape.Append(SpaceDimension).ToArray());

    /// <inheritdoc />
    public override Tensor Exp(Tensor algebra)
    {
        CheckLast(algebra, SpaceDimension, "translations");
        return Homogeneous(Identity(algebra), algebra);
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor elements)
    {
        CheckMatrix(elements);
        return Split(elements).T;
    }

    /// <inheritdoc />
    public override Tensor Inverse(Tensor elements) => RigidInverse(elements);

    /// <inheritdoc />
    public override Tensor Act(Tensor elements, Tensor points) => points + Split(elements).T;

    /// <summary>Lifts x to the translation by x [N, 1, d+1, d+1]; stabiliser samples are ignored (trivial stabiliser).</summary>
    public override (Tensor Elements, Tensor Orbits) Lift(Tensor points, Tensor? stabiliser = null)
    {
        CheckLast(points, SpaceDimension, "points");
        return (Exp(points).unsqueeze(-3), torch.zeros(points.shape[0], 0, dtype: points.dtype, device: points.device));
    }
}
