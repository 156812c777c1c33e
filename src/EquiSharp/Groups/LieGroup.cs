using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Groups;

/// <summary>
/// A matrix Lie group acting on R^d, behind one interface: elements are matrices [..., m, m]
/// (homogeneous (d+1)×(d+1) matrices for groups with translations), Lie-algebra elements are
/// coordinate vectors [..., k] (rotation part first, then translation). Exp and Log use closed forms with
/// Taylor branches near 0 and a dedicated branch near π, so they are accurate to round-off for all angles.
/// </summary>
public abstract class LieGroup
{
    /// <summary>Small-angle threshold below which the closed forms switch to their Taylor series.</summary>
    protected const double SmallAngle = 1e-3;

    /// <summary>Short name (e.g. "SE(3)").</summary>
    public abstract string Name { get; }

    /// <summary>Dimension d of the space the group acts on.</summary>
    public abstract int SpaceDimension { get; }

    /// <summary>Dimension k of the Lie algebra (coordinates of <see cref="Log"/>).</summary>
    public abstract int AlgebraDimension { get; }

    /// <summary>Size m of the element matrices.</summary>
    public abstract int MatrixSize { get; }

    /// <summary>
    /// Dimension of the orbit identifiers returned by <see cref="Lift"/>: 0 when the group acts transitively
    /// on R^d (translations), 1 for rotation groups (the radius |x| labels the orbit).
    /// </summary>
    public abstract int OrbitDimension { get; }

    /// <summary>Whether the stabiliser of a point is continuous (lifting then takes several samples from it).</summary>
    public abstract bool HasStabiliser { get; }

    /// <summary>The exponential map: algebra coordinates [..., k] → elements [..., m, m].</summary>
    public abstract Tensor Exp(Tensor algebra);

    /// <summary>The logarithm (principal branch, rotation angle in [0, π]): elements [..., m, m] → coordinates [..., k].</summary>
    public abstract Tensor Log(Tensor elements);

    /// <summary>The group action on points: g · x for elements [..., m, m] and points [..., d] (broadcast).</summary>
    public abstract Tensor Act(Tensor elements, Tensor points);

    /// <summary>
    /// Lifts points x [N, d] to group elements [N, S, m, m] that map the origin (or, for rotation groups,
    /// the point |x| e_last) to x; S = the number of given stabiliser samples (rotations of the stabiliser),
    /// or 1 without a stabiliser. Returns the orbit identifiers [N, <see cref="OrbitDimension"/>] too.
    /// </summary>
    /// <param name="points">Points [N, d].</param>
    /// <param name="stabiliser">Stabiliser elements [S, m, m] applied on the right (g = g_x h_s); null: the identity only.</param>
    public abstract (Tensor Elements, Tensor Orbits) Lift(Tensor points, Tensor? stabiliser = null);

    /// <summary>The inverse g⁻¹ [..., m, m].</summary>
    public virtual Tensor Inverse(Tensor elements) => torch.linalg.inv(elements);

    /// <summary>The composition g h [..., m, m] (broadcast).</summary>
    public Tensor Compose(Tensor g, Tensor h) => g.matmul(h);

    /// <summary>
    /// The left-invariant distance d(g, h) = |Log(g⁻¹ h)| with the rotation coordinates weighted by
    /// <paramref name="rotationWeight"/> and the translation coordinates by <paramref name="translationWeight"/> [...].
    /// </summary>
    public Tensor Distance(Tensor g, Tensor h, double rotationWeight = 1, double translationWeight = 1)
    {
        var a = Log(Compose(Inverse(g), h));
        int r = RotationCoordinates;
        var rot = a.narrow(-1, 0, r).square().sum(-1) * (rotationWeight * rotationWeight);
        var trans = a.narrow(-1, r, AlgebraDimension - r).square().sum(-1) * (translationWeight * translationWeight);
        return (rot + trans).sqrt();
    }

    /// <summary>Number of rotation coordinates at the start of the algebra vector.</summary>
    public abstract int RotationCoordinates { get; }

    /// <summary>Throws a clear error unless the last axis of <paramref name="t"/> has size <paramref name="size"/>.</summary>
    protected void CheckLast(Tensor t, int size, string what)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dim() < 1 || t.shape[^1] != size || !t.is_floating_point())
            throw new GraphValidationException($"{Name}: {what} have shape {GraphValidation.Shape(t)} ({t.dtype}); expected floating point [..., {size}].");
    }

    /// <summary>Throws a clear error unless <paramref name="t"/> is [..., m, m].</summary>
    protected void CheckMatrix(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dim() < 2 || t.shape[^1] != MatrixSize || t.shape[^2] != MatrixSize || !t.is_floating_point())
            throw new GraphValidationException($"{Name}: elements have shape {GraphValidation.Shape(t)} ({t.dtype}); expected floating point [..., {MatrixSize}, {MatrixSize}].");
    }

    /// <summary>The homogeneous matrix [..., d+1, d+1] of rotations [..., d, d] and translations [..., d].</summary>
    protected static Tensor Homogeneous(Tensor rotation, Tensor translation)
    {
        long d = rotation.shape[^1];
        var top = torch.cat(new[] { rotation, translation.unsqueeze(-1) }, -1);
        var last = torch.zeros(d + 1, dtype: rotation.dtype, device: rotation.device);
        last[d] = 1;
        var bottom = last.expand(translation.shape[..^1].Append(d + 1).ToArray());
        return torch.cat(new[] { top, bottom.unsqueeze(-2) }, -2);
    }

    /// <summary>Inverse of a homogeneous matrix with an orthogonal block: (R, t)⁻¹ = (Rᵀ, −Rᵀ t).</summary>
    protected static Tensor RigidInverse(Tensor g)
    {
        long d = g.shape[^1] - 1;
        var rt = g[TensorIndex.Ellipsis, ..(int)d, ..(int)d].transpose(-1, -2);
        var t = g[TensorIndex.Ellipsis, ..(int)d, (int)d];
        return Homogeneous(rt, -rt.matmul(t.unsqueeze(-1)).squeeze(-1));
    }

    /// <summary>Rotation block [..., d, d] and translation [..., d] of homogeneous matrices.</summary>
    protected static (Tensor R, Tensor T) Split(Tensor g)
    {
        int d = (int)g.shape[^1] - 1;
        return (g[TensorIndex.Ellipsis, ..d, ..d], g[TensorIndex.Ellipsis, ..d, d]);
    }

    /// <summary>Matrices [..., m, m] from their row-major entries stacked on the last axis [..., m·m].</summary>
    protected static Tensor Matrices(Tensor entries, int m) => entries.reshape(entries.shape[..^1].Append(m).Append(m).ToArray());

    /// <summary>f(θ) by its closed form for θ ≥ <see cref="SmallAngle"/> and its series below, without NaN gradients.</summary>
    protected static Tensor Safe(Tensor theta, Func<Tensor, Tensor> closed, Func<Tensor, Tensor> series)
    {
        var small = theta.abs() < SmallAngle;
        var safeTheta = torch.where(small, torch.ones_like(theta), theta);
        return torch.where(small, series(theta), closed(safeTheta));
    }
}
