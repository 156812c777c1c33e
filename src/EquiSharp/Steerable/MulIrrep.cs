namespace EquiSharp.Steerable;

/// <summary>A block of <see cref="Mul"/> consecutive copies of one <see cref="Irrep"/>, written "16x1o".</summary>
public readonly record struct MulIrrep(int Mul, Irrep Irrep)
{
    /// <summary>The dimension Mul · (2l + 1).</summary>
    public int Dim => Mul * Irrep.Dim;

    /// <inheritdoc/>
    public override string ToString() => $"{Mul}x{Irrep}";
}
