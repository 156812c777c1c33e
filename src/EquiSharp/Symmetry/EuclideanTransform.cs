using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Symmetry;

/// <summary>
/// An element g = (R, t) of the Euclidean group E(d): an orthogonal matrix R [d, d] (a rotation, det +1,
/// or a reflection, det −1) and a translation t [d]. It maps positions x ↦ R x + t, vectors v ↦ R v and
/// pseudovectors v ↦ det(R) R v.
/// </summary>
/// <remarks>Tensors of points or vectors are row-major with the spatial axis last ([..., d]), so
/// R x + t is computed as x Rᵀ + t. The transform is cast to the dtype and device of the tensor it is
/// applied to. The transform does not own its tensors' lifetime beyond the usual dispose scopes.</remarks>
public sealed class EuclideanTransform
{
    /// <summary>Creates g = (<paramref name="rotation"/>, <paramref name="translation"/>).</summary>
    /// <param name="rotation">Orthogonal matrix [d, d], floating point (orthogonality is not checked here; see <see cref="OrthogonalityError"/>).</param>
    /// <param name="translation">Translation [d]; null means zero.</param>
    public EuclideanTransform(Tensor rotation, Tensor? translation = null)
    {
        ArgumentNullException.ThrowIfNull(rotation);
        if (rotation.dim() != 2 || rotation.shape[0] != rotation.shape[1] || !rotation.is_floating_point())
            throw new ArgumentException($"rotation must be a floating point square matrix [d, d], got {GraphValidation.Shape(rotation)} ({rotation.dtype}).", nameof(rotation));
        long d = rotation.shape[0];
        translation ??= torch.zeros(d, dtype: rotation.dtype, device: rotation.device);
        if (translation.dim() != 1 || translation.shape[0] != d || !translation.is_floating_point())
            throw new ArgumentException($"translation must be a floating point vector [d = {d}], got {GraphValidation.Shape(translation)} ({translation.dtype}).", nameof(translation));
        Rotation = rotation;
        Translation = translation;
        using var det = torch.linalg.det(rotation.to(ScalarType.Float64));
        Determinant = det.item<double>();
    }

    /// <summary>The orthogonal part R [d, d].</summary>
    public Tensor Rotation { get; }

    /// <summary>The translation t [d].</summary>
    public Tensor Translation { get; }

    /// <summary>Spatial dimension d.</summary>
    public int Dim => (int)Rotation.shape[0];

    /// <summary>det(R): +1 for rotations, −1 for reflections (up to rounding).</summary>
    public double Determinant { get; }

    /// <summary>True when det(R) &lt; 0 (R contains a reflection).</summary>
    public bool IsImproper => Determinant < 0;

    /// <summary>The sign of det(R) as ±1, the factor applied to pseudovectors and pseudoscalars.</summary>
    public double Parity => Determinant < 0 ? -1.0 : 1.0;

    /// <summary>The identity of E(<paramref name="dim"/>).</summary>
    public static EuclideanTransform Identity(int dim, ScalarType dtype = ScalarType.Float64, Device? device = null) =>
        new(torch.eye(dim, dtype: dtype, device: device));

    /// <summary>A pure translation by <paramref name="translation"/> [d].</summary>
    public static EuclideanTransform FromTranslation(Tensor translation)
    {
        ArgumentNullException.ThrowIfNull(translation);
        if (translation.dim() != 1)
            throw new ArgumentException($"translation must be a vector [d], got {GraphValidation.Shape(translation)}.", nameof(translation));
        return new(torch.eye(translation.shape[0], dtype: translation.dtype, device: translation.device), translation);
    }

    /// <summary>
    /// A random Euclidean transform: R Haar in SO(d) (or O(d) when <paramref name="allowReflections"/>),
    /// t ~ N(0, <paramref name="translationScale"/>² I). Reproducible with <paramref name="generator"/>.
    /// </summary>
    public static EuclideanTransform Random(int dim, Generator? generator = null, bool allowReflections = false,
        double translationScale = 1.0, ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        var r = allowReflections
            ? Rotations.RandomOrthogonal(dim, generator, dtype, device)
            : Rotations.RandomSpecialOrthogonal(dim, generator, dtype, device);
        using var t64 = torch.randn(new long[] { dim }, dtype: ScalarType.Float64, generator: generator) * translationScale;
        return new(r, t64.to(dtype, device ?? r.device));
    }

    /// <summary>R x + t for positions <paramref name="positions"/> [..., d].</summary>
    public Tensor ApplyToPositions(Tensor positions)
    {
        CheckLast(positions, nameof(positions));
        using var scope = torch.NewDisposeScope();
        var r = Rotation.to(positions.dtype, positions.device);
        var t = Translation.to(positions.dtype, positions.device);
        return (positions.matmul(r.t()) + t).MoveToOuterDisposeScope();
    }

    /// <summary>R v for vectors <paramref name="vectors"/> [..., d] (translations do not act on vectors).</summary>
    public Tensor ApplyToVectors(Tensor vectors)
    {
        CheckLast(vectors, nameof(vectors));
        using var r = Rotation.to(vectors.dtype, vectors.device);
        return vectors.matmul(r.t());
    }

    /// <summary>det(R) R v for pseudovectors [..., d] (e.g. angular momenta, cross products).</summary>
    public Tensor ApplyToPseudovectors(Tensor pseudovectors)
    {
        using var rotated = ApplyToVectors(pseudovectors);
        return rotated * Parity;
    }

    /// <summary>The inverse g⁻¹ = (Rᵀ, −Rᵀ t).</summary>
    public EuclideanTransform Inverse()
    {
        var rt = Rotation.t().contiguous();
        return new(rt, -rt.matmul(Translation));
    }

    /// <summary>The composition this ∘ <paramref name="inner"/>: x ↦ R₁(R₂ x + t₂) + t₁.</summary>
    public EuclideanTransform Compose(EuclideanTransform inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (inner.Dim != Dim) throw new ArgumentException($"Cannot compose transforms of dimension {Dim} and {inner.Dim}.", nameof(inner));
        var r2 = inner.Rotation.to(Rotation.dtype, Rotation.device);
        var t2 = inner.Translation.to(Rotation.dtype, Rotation.device);
        return new(Rotation.matmul(r2), Rotation.matmul(t2) + Translation);
    }

    /// <summary>This transform with tensors converted to <paramref name="dtype"/> and <paramref name="device"/>.</summary>
    public EuclideanTransform To(ScalarType dtype, Device? device = null) =>
        new(Rotation.to(dtype, device ?? Rotation.device), Translation.to(dtype, device ?? Translation.device));

    /// <summary>max |RᵀR − I|, a check that <see cref="Rotation"/> is orthogonal.</summary>
    public double OrthogonalityError()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotation.to(ScalarType.Float64);
        return (r.t().matmul(r) - torch.eye(Dim, dtype: ScalarType.Float64, device: r.device)).abs().max().item<double>();
    }

    /// <summary>A short description: group, rotation angle (2D/3D), |t|.</summary>
    public override string ToString()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotation.to(ScalarType.Float64, CPU);
        string group = IsImproper ? $"O({Dim}) det -1" : $"SO({Dim})";
        string angle = "";
        if (Dim == 3)
        {
            // Angle of the proper part ±R.
            var proper = IsImproper ? -r : r;
            double tr = proper.trace().item<double>();
            angle = $" {Math.Acos(Math.Clamp((tr - 1) / 2, -1, 1)) * 180 / Math.PI:F1}°";
        }
        else if (Dim == 2)
        {
            angle = IsImproper ? "" : $" {Math.Atan2(r[1, 0].item<double>(), r[0, 0].item<double>()) * 180 / Math.PI:F1}°";
        }
        double tnorm = Translation.to(ScalarType.Float64).norm().item<double>();
        bool isIdentity = (r - torch.eye(Dim, dtype: ScalarType.Float64)).abs().max().item<double>() == 0;
        string rot = isIdentity ? "" : group + angle;
        string trans = tnorm == 0 ? "" : $"t |{tnorm:G3}|";
        return rot.Length == 0 && trans.Length == 0 ? "identity" : string.Join(", ", new[] { rot, trans }.Where(s => s.Length > 0));
    }

    private void CheckLast(Tensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() < 1 || t.shape[^1] != Dim || !t.is_floating_point())
            throw new ArgumentException($"{name}: expected a floating point tensor [..., d = {Dim}], got {GraphValidation.Shape(t)} ({t.dtype}).", name);
    }
}
