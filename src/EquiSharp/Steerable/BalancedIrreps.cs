namespace EquiSharp.Steerable;

/// <summary>
/// Hidden irreps sized to a parameter budget (SEGNN's WeightBalancedIrreps): n copies of the
/// spherical-harmonic irreps up to l_max (n×0e + n×1o + n×2e ...), with the smallest n whose steerable
/// linear layer (fully connected product with the attribute, hidden → hidden) has at least as many
/// weights as the scalar layer (<c>scalars</c>×0e → <c>scalars</c>×0e) it replaces.
/// </summary>
public static class BalancedIrreps
{
    /// <summary>The balanced hidden irreps; 64 scalars with attributes 0e+1o and l_max 1 give 32x0e+32x1o.</summary>
    /// <param name="scalars">Number of scalar features of the budget layer.</param>
    /// <param name="attr">Irreps of the steerable attribute.</param>
    /// <param name="lmax">Highest degree of the hidden irreps.</param>
    public static Irreps WeightBalanced(int scalars, Irreps attr, int lmax)
    {
        ArgumentNullException.ThrowIfNull(attr);
        if (scalars < 1) throw new ArgumentOutOfRangeException(nameof(scalars), scalars, "Must be positive.");
        if (lmax < 0) throw new ArgumentOutOfRangeException(nameof(lmax), lmax, "Must be non-negative.");
        Irreps budgetIrreps = new((scalars, new Irrep(0, 1)));
        long budget = WeightCount(budgetIrreps, attr, budgetIrreps);
        for (int n = 1; ; n++)
        {
            var hidden = n * Irreps.SphericalHarmonics(lmax);
            if (WeightCount(hidden, attr, hidden) >= budget) return hidden;
        }
    }

    /// <summary>The number of weights of the fully connected product <paramref name="in1"/> × <paramref name="in2"/> → <paramref name="output"/>.</summary>
    public static long WeightCount(Irreps in1, Irreps in2, Irreps output) =>
        FullyConnectedTensorProduct.Paths(in1, in2, output).Sum(p => (long)in1[p.In1].Mul * in2[p.In2].Mul * output[p.Out].Mul);
}
