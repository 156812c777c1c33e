using EquiSharp.Equivariance;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// The equivariance kit's field type for irreps-typed tensors: the last dimension carries
/// <see cref="Irreps"/> and transforms with the block-diagonal D(R) (parity included).
/// </summary>
public sealed class IrrepsField : RepresentationField
{
    /// <summary>A field carrying <paramref name="irreps"/>.</summary>
    public IrrepsField(Irreps irreps) : base(irreps?.ToString() ?? throw new ArgumentNullException(nameof(irreps)))
    {
        Irreps = irreps;
    }

    /// <summary>The irreps on the last dimension.</summary>
    public Irreps Irreps { get; }

    /// <inheritdoc/>
    public override Tensor Matrix(Tensor orthogonal)
    {
        if (orthogonal.shape.Length != 2 || orthogonal.shape[0] != 3 || orthogonal.shape[1] != 3)
            throw new ArgumentException($"Irreps fields live in 3D; got a transform of shape [{string.Join(", ", orthogonal.shape)}].", nameof(orthogonal));
        return Irreps.D(orthogonal);
    }
}
