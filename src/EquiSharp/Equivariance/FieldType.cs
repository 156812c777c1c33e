using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Equivariance;

/// <summary>
/// How a tensor transforms under an element g = (R, t) of E(d): the group action on the tensor's
/// last dimension. Built-in types cover invariant scalars, pseudoscalars, vectors, positions and
/// pseudovectors; <see cref="Representation(string, Func{Tensor, Tensor})"/> (or a subclass of
/// <see cref="RepresentationField"/>) covers any representation D(R), e.g. e3nn-style irreps.
/// </summary>
/// <remarks>A field type must be a group action: applying g₁ then g₂ equals applying g₂ ∘ g₁. Leading
/// dimensions (nodes, channels) are untouched; permutations are handled separately by the level
/// (<see cref="FieldLevel"/>) of the field.</remarks>
public abstract class FieldType
{
    /// <summary>A short name used in reports (e.g. "vector", "1x0e+1x1o").</summary>
    public abstract string Name { get; }

    /// <summary>True if translations act on this type (only positions, among the built-in types).</summary>
    public virtual bool IsTranslated => false;

    /// <summary>
    /// Applies <paramref name="transform"/> to <paramref name="value"/>, whose last dimension carries
    /// the representation. Throws <see cref="ArgumentException"/> when the last dimension does not fit.
    /// </summary>
    public abstract Tensor Apply(Tensor value, EuclideanTransform transform);

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>Unchanged by every transform (energies, distances, species embeddings), any shape.</summary>
    public static FieldType Invariant { get; } = new InvariantField();

    /// <summary>Multiplied by det(R) (changes sign under reflections), any shape (e.g. signed volumes, chirality).</summary>
    public static FieldType Pseudoscalar { get; } = new PseudoscalarField();

    /// <summary>v ↦ R v on the last dimension d; translations do not act (velocities, forces, displacements).</summary>
    public static FieldType Vector { get; } = new VectorField();

    /// <summary>x ↦ R x + t on the last dimension d (coordinates).</summary>
    public static FieldType Position { get; } = new PositionField();

    /// <summary>v ↦ det(R) R v on the last dimension d (angular momenta, magnetic fields, cross products of vectors).</summary>
    public static FieldType Pseudovector { get; } = new PseudovectorField();

    /// <summary>
    /// A field transforming with a representation: v ↦ D(R) v on the last dimension, where
    /// <paramref name="representation"/> maps the orthogonal matrix R [d, d] (det ±1; reflections
    /// included, so D must handle parity) to D(R) [k, k]. Translations do not act.
    /// </summary>
    /// <param name="name">Name shown in reports (e.g. an irreps string).</param>
    /// <param name="representation">R [d, d] → D(R) [k, k], a homomorphism of O(d) (or SO(d) if reflections are not checked).</param>
    public static FieldType Representation(string name, Func<Tensor, Tensor> representation) =>
        new RepresentationField(name, representation);

    private sealed class InvariantField : FieldType
    {
        public override string Name => "invariant";
        public override Tensor Apply(Tensor value, EuclideanTransform transform) => value.alias();
    }

    private sealed class PseudoscalarField : FieldType
    {
        public override string Name => "pseudoscalar";
        public override Tensor Apply(Tensor value, EuclideanTransform transform) => value * transform.Parity;
    }

    private sealed class VectorField : FieldType
    {
        public override string Name => "vector";
        public override Tensor Apply(Tensor value, EuclideanTransform transform)
        {
            CheckSpatial(value, transform, Name);
            return transform.ApplyToVectors(value);
        }
    }

    private sealed class PositionField : FieldType
    {
        public override string Name => "position";
        public override bool IsTranslated => true;
        public override Tensor Apply(Tensor value, EuclideanTransform transform)
        {
            CheckSpatial(value, transform, Name);
            return transform.ApplyToPositions(value);
        }
    }

    private sealed class PseudovectorField : FieldType
    {
        public override string Name => "pseudovector";
        public override Tensor Apply(Tensor value, EuclideanTransform transform)
        {
            CheckSpatial(value, transform, Name);
            return transform.ApplyToPseudovectors(value);
        }
    }

    private protected static void CheckSpatial(Tensor value, EuclideanTransform transform, string name)
    {
        if (value.dim() < 1 || value.shape[^1] != transform.Dim)
            throw new ArgumentException($"A {name} field needs its last dimension to be d = {transform.Dim}, got shape {GraphValidation.Shape(value)}.", nameof(value));
    }
}

/// <summary>
/// A field that transforms with a representation D of O(d) on its last dimension: v ↦ D(R) v
/// (computed as v D(R)ᵀ on row-major tensors). This is the extension point of the kit: pass a
/// function to the constructor, or subclass and override <see cref="Matrix"/> (e.g. an irreps field
/// built from Wigner D matrices with parity).
/// </summary>
public class RepresentationField : FieldType
{
    private readonly Func<Tensor, Tensor>? _representation;
    private readonly string _name;

    /// <summary>A representation given as a function R [d, d] → D(R) [k, k].</summary>
    public RepresentationField(string name, Func<Tensor, Tensor> representation)
    {
        ArgumentNullException.ThrowIfNull(representation);
        _name = string.IsNullOrWhiteSpace(name) ? "representation" : name;
        _representation = representation;
    }

    /// <summary>For subclasses that override <see cref="Matrix"/>.</summary>
    protected RepresentationField(string name)
    {
        _name = string.IsNullOrWhiteSpace(name) ? "representation" : name;
    }

    /// <inheritdoc/>
    public override string Name => _name;

    /// <summary>
    /// D(R) [k, k] for the orthogonal matrix <paramref name="orthogonal"/> [d, d] (det +1 or −1). The
    /// kit passes R in float64 on the value's device; the result is cast to the value's dtype.
    /// </summary>
    public virtual Tensor Matrix(Tensor orthogonal) =>
        _representation is null
            ? throw new InvalidOperationException($"{GetType().Name} must override Matrix or be constructed with a representation function.")
            : _representation(orthogonal);

    /// <inheritdoc/>
    public override Tensor Apply(Tensor value, EuclideanTransform transform)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(transform);
        using var scope = torch.NewDisposeScope();
        var r = transform.Rotation.to(ScalarType.Float64, value.device);
        var d = Matrix(r);
        if (d is null || d.dim() != 2 || d.shape[0] != d.shape[1])
            throw new InvalidOperationException($"Representation '{Name}' returned {(d is null ? "null" : GraphValidation.Shape(d))}; expected a square matrix [k, k].");
        if (value.dim() < 1 || value.shape[^1] != d.shape[0])
            throw new ArgumentException($"Representation '{Name}' has dimension k = {d.shape[0]}, but the value's last dimension is {(value.dim() < 1 ? "missing" : value.shape[^1])} (shape {GraphValidation.Shape(value)}).", nameof(value));
        return value.matmul(d.to(value.dtype, value.device).t()).MoveToOuterDisposeScope();
    }
}
