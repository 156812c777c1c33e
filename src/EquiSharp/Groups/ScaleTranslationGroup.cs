using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Groups;

/// <summary>
/// The scale–translation (dilation) group T(d) ⋊ R_{&gt;0} acting on R^d by x ↦ s x + t: elements are the
/// homogeneous matrices [[s I, t], [0, 1]] [..., d+1, d+1], algebra coordinates (λ, u) [..., 1 + d] with
/// s = e^λ. Exp(λ, u) = (e^λ, φ(λ) u) with φ(λ) = (e^λ − 1)/λ (Taylor series for |λ| below 1e-3, so it is
/// exact at λ = 0 and has finite gradients there); Log inverts it. The group acts transitively on R^d; the
/// stabiliser of a point is the scalings about it, so <see cref="Lift"/> takes scaling samples
/// (<see cref="Scalings"/>). In <see cref="LieGroup.Distance"/> the log-scale λ is the coordinate weighted
/// by <c>rotationWeight</c> (it sits where rotation groups keep their angles).
/// </summary>
public sealed class ScaleTranslationGroup : LieGroup
{
    /// <summary>The group acting on R^<paramref name="dimension"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="dimension"/> is below 1.</exception>
    public ScaleTranslationGroup(int dimension)
    {
        SpaceDimension = dimension >= 1 ? dimension : throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Must be positive.");
    }

    /// <inheritdoc/>
    public override string Name => $"T({SpaceDimension})⋊R>0";

    /// <inheritdoc/>
    public override int SpaceDimension { get; }

    /// <inheritdoc/>
    public override int AlgebraDimension => SpaceDimension + 1;

    /// <inheritdoc/>
    public override int MatrixSize => SpaceDimension + 1;

    /// <inheritdoc/>
    public override int OrbitDimension => 0;

    /// <inheritdoc/>
    public override bool HasStabiliser => true;

    /// <summary>One: the log-scale λ (see the class remarks).</summary>
    public override int RotationCoordinates => 1;

    /// <summary>The elements of pure scalings by <paramref name="factors"/> [S] (positive): [S, d+1, d+1], e.g. stabiliser samples for <see cref="Lift"/>.</summary>
    /// <exception cref="Graphs.GraphValidationException">When <paramref name="factors"/> is not a 1-D floating point tensor of positive values.</exception>
    public Tensor Scalings(Tensor factors)
    {
        ArgumentNullException.ThrowIfNull(factors);
        if (factors.dim() != 1 || !factors.is_floating_point())
            throw new Graphs.GraphValidationException($"{Name}: scaling factors have shape {Graphs.GraphValidation.Shape(factors)} ({factors.dtype}); expected floating point [S].");
        if (!(factors.min().to_type(ScalarType.Float64).item<double>() > 0))
            throw new Graphs.GraphValidationException($"{Name}: scaling factors must be positive.");
        return Homogeneous(Scaled(factors), torch.zeros(factors.shape[0], SpaceDimension, dtype: factors.dtype, device: factors.device));
    }

    /// <inheritdoc/>
    public override Tensor Exp(Tensor algebra)
    {
        CheckLast(algebra, AlgebraDimension, "algebra coordinates");
        var lambda = algebra[TensorIndex.Ellipsis, ..1];                                    // [..., 1]
        var u = algebra[TensorIndex.Ellipsis, 1..];
        var phi = Safe(lambda, l => torch.expm1(l) / l, l => 1 + l / 2 + l.square() / 6 + l.pow(3) / 24);
        return Homogeneous(Scaled(lambda.exp().squeeze(-1)), phi * u);
    }

    /// <inheritdoc/>
    public override Tensor Log(Tensor elements)
    {
        CheckMatrix(elements);
        var (block, t) = Split(elements);
        var lambda = Scales(block).log();
        var inversePhi = Safe(lambda, l => l / torch.expm1(l), l => 1 - l / 2 + l.square() / 12 - l.pow(4) / 720);
        return torch.cat(new[] { lambda, inversePhi * t }, -1);
    }

    /// <summary>(s, t)⁻¹ = (1/s, −t/s).</summary>
    public override Tensor Inverse(Tensor elements)
    {
        CheckMatrix(elements);
        var (block, t) = Split(elements);
        var s = Scales(block);
        return Homogeneous(Scaled(s.reciprocal().squeeze(-1)), -t / s);
    }

    /// <inheritdoc/>
    public override Tensor Act(Tensor elements, Tensor points)
    {
        var (block, t) = Split(elements);
        return block.matmul(points.unsqueeze(-1)).squeeze(-1) + t;
    }

    /// <summary>
    /// Lifts points x [N, d] to g = (1, x) h_s for each scaling sample h_s: elements [N, S, d+1, d+1] that map
    /// the origin to x; orbit identifiers [N, 0] (one orbit).
    /// </summary>
    /// <param name="points">Points [N, d].</param>
    /// <param name="stabiliser">Scalings [S, d+1, d+1] (<see cref="Scalings"/>); null: the identity only.</param>
    public override (Tensor Elements, Tensor Orbits) Lift(Tensor points, Tensor? stabiliser = null)
    {
        CheckLast(points, SpaceDimension, "points");
        if (stabiliser is not null) CheckMatrix(stabiliser);
        long n = points.shape[0];
        var h = stabiliser is null
            ? torch.eye(MatrixSize, dtype: points.dtype, device: points.device).unsqueeze(0)
            : stabiliser.to(points.dtype, points.device).reshape(-1, MatrixSize, MatrixSize);
        long s = h.shape[0];
        var (block, _) = Split(h);                                                           // [S, d, d]
        return (Homogeneous(block.unsqueeze(0).expand(n, s, SpaceDimension, SpaceDimension), points.unsqueeze(1).expand(n, s, SpaceDimension)),
            torch.zeros(n, 0, dtype: points.dtype, device: points.device));
    }

    /// <summary>The scales s [..., 1] of blocks s I [..., d, d] (the mean of the diagonal: every entry is s).</summary>
    private static Tensor Scales(Tensor block) => block.diagonal(0, -2, -1).mean(new long[] { -1 }, keepdim: true);

    /// <summary>s I [..., d, d] for scales s [...].</summary>
    private Tensor Scaled(Tensor s) =>
        s.unsqueeze(-1).unsqueeze(-1) * torch.eye(SpaceDimension, dtype: s.dtype, device: s.device);
}
