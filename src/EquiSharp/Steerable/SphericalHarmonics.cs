using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Real spherical harmonics of any degree in e3nn's basis (see docs/conventions.md): Y_l(x) for
/// x [..., 3] → [..., Σ(2l + 1)], components m = −l … l per degree, degrees in the requested order.
/// Y_1(x) ∝ (x, y, z), so D¹(R) = R. Computed with the stable three-term recurrence of the
/// normalised associated Legendre polynomials, as homogeneous polynomials (solid harmonics) of x, so
/// any degree works and the values are exact polynomials when <c>normalize</c> is false.
/// </summary>
/// <remarks>The module form evaluates the fixed <see cref="Irreps"/>; <see cref="Compute(IReadOnlyList{int}, Tensor, bool, SphericalHarmonicsNormalization)"/> is the function.</remarks>
public sealed class SphericalHarmonics : nn.Module<Tensor, Tensor>
{
    private readonly int[] _ls;

    /// <summary>Spherical harmonics for <paramref name="irreps"/>, which must be spherical-harmonic irreps (parity (−1)^l, e.g. "0e+1o+2e").</summary>
    public SphericalHarmonics(Irreps irreps, bool normalize = true, SphericalHarmonicsNormalization normalization = SphericalHarmonicsNormalization.Component)
        : base(nameof(SphericalHarmonics))
    {
        ArgumentNullException.ThrowIfNull(irreps);
        _ls = Degrees(irreps);
        Irreps = irreps;
        Normalize = normalize;
        Normalization = normalization;
        RegisterComponents();
    }

    /// <summary>Spherical harmonics of degrees 0 … <paramref name="lmax"/>.</summary>
    public SphericalHarmonics(int lmax, bool normalize = true, SphericalHarmonicsNormalization normalization = SphericalHarmonicsNormalization.Component)
        : this(Irreps.SphericalHarmonics(lmax), normalize, normalization) { }

    /// <summary>The output irreps.</summary>
    public Irreps Irreps { get; }

    /// <summary>Whether inputs are normalised to unit length first (safe at zero).</summary>
    public bool Normalize { get; }

    /// <summary>The normalisation.</summary>
    public SphericalHarmonicsNormalization Normalization { get; }

    /// <summary>Y(x) [..., Irreps.Dim] for vectors <paramref name="x"/> [..., 3].</summary>
    public override Tensor forward(Tensor x) => Compute(_ls, x, Normalize, Normalization);

    /// <summary>Y(x) for the spherical-harmonic irreps <paramref name="irreps"/>.</summary>
    public static Tensor Compute(Irreps irreps, Tensor x, bool normalize = true, SphericalHarmonicsNormalization normalization = SphericalHarmonicsNormalization.Component) =>
        Compute(Degrees(irreps), x, normalize, normalization);

    /// <summary>Y(x) of degrees 0 … <paramref name="lmax"/>.</summary>
    public static Tensor Compute(int lmax, Tensor x, bool normalize = true, SphericalHarmonicsNormalization normalization = SphericalHarmonicsNormalization.Component) =>
        Compute(Enumerable.Range(0, CheckL(lmax) + 1).ToArray(), x, normalize, normalization);

    /// <summary>
    /// Y(x) [..., Σ(2l + 1)] of the degrees <paramref name="ls"/> (any order, repeats allowed) for
    /// <paramref name="x"/> [..., 3]. With <paramref name="normalize"/> the input is divided by its
    /// length; the zero vector gives Y_0 and zeros for l > 0, with finite gradients.
    /// </summary>
    public static Tensor Compute(IReadOnlyList<int> ls, Tensor x, bool normalize = true, SphericalHarmonicsNormalization normalization = SphericalHarmonicsNormalization.Component)
    {
        ArgumentNullException.ThrowIfNull(ls);
        ArgumentNullException.ThrowIfNull(x);
        if (ls.Count == 0) throw new ArgumentException("At least one degree is needed.", nameof(ls));
        foreach (var l in ls) CheckL(l);
        if (x.dim() < 1 || x.shape[^1] != 3 || !x.is_floating_point())
            throw new ArgumentException($"Spherical harmonics need floating point vectors [..., 3], got {GraphValidation.Shape(x)} ({x.dtype}).", nameof(x));
        using var scope = torch.NewDisposeScope();
        var v = normalize ? SafeNormalize(x) : x;
        // e3nn's y axis is the polar axis: the standard real harmonics evaluated at (X, Y, Z) = (z, x, y).
        var bx = v[TensorIndex.Ellipsis, 2];
        var by = v[TensorIndex.Ellipsis, 0];
        var bz = v[TensorIndex.Ellipsis, 1];
        int lmax = ls.Max();
        var r2 = lmax >= 2 ? bx * bx + by * by + bz * bz : null;

        // C_m + i S_m = (X + i Y)^m, the azimuthal factors times sin^m θ.
        var cos = new Tensor[lmax + 1];
        var sin = new Tensor[lmax + 1];
        if (lmax >= 1) { cos[1] = bx; sin[1] = by; }
        for (int m = 2; m <= lmax; m++)
        {
            cos[m] = bx * cos[m - 1] - by * sin[m - 1];
            sin[m] = bx * sin[m - 1] + by * cos[m - 1];
        }

        var needed = new HashSet<int>(ls);
        var components = new Dictionary<int, Tensor[]>();
        foreach (var l in needed) components[l] = new Tensor[2 * l + 1];

        // Normalised Legendre factors P[l] (polynomials in Z and r², "norm" normalisation), one column m at a time.
        // P[m] is the constant cm, represented by null.
        double cm = 1;
        for (int m = 0; m <= lmax; m++)
        {
            if (m > 0) cm *= Math.Sqrt((2.0 * m - 1) / (2.0 * m));
            var p = new Tensor?[lmax + 1];
            for (int l = m; l <= lmax; l++)
            {
                if (l == m + 1) p[l] = bz * (Math.Sqrt(2.0 * m + 1) * cm);
                else if (l >= m + 2)
                {
                    double a = (2.0 * l - 1) / Math.Sqrt((double)(l - m) * (l + m));
                    double b = Math.Sqrt((double)(l + m - 1) * (l - m - 1) / ((double)(l - m) * (l + m)));
                    var older = p[l - 2] is null ? r2! * (b * cm) : r2! * p[l - 2]! * b;
                    p[l] = bz * p[l - 1]! * a - older;
                }
                if (!needed.Contains(l)) continue;
                double f = Factor(l, normalization) * (m == 0 ? 1 : Math.Sqrt(2));
                var target = components[l];
                if (m == 0)
                    target[l] = p[l] is null ? torch.full_like(bz, f * cm) : p[l]! * f;
                else if (p[l] is null)
                {
                    target[l + m] = cos[m] * (f * cm);
                    target[l - m] = sin[m] * (f * cm);
                }
                else
                {
                    var pf = p[l]! * f;
                    target[l + m] = pf * cos[m];
                    target[l - m] = pf * sin[m];
                }
            }
        }
        var all = ls.SelectMany(l => components[l]).ToArray();
        return torch.stack(all, -1).MoveToOuterDisposeScope();
    }

    /// <summary>The factor turning "norm" into <paramref name="normalization"/> for degree l.</summary>
    public static double Factor(int l, SphericalHarmonicsNormalization normalization) => normalization switch
    {
        SphericalHarmonicsNormalization.Norm => 1.0,
        SphericalHarmonicsNormalization.Component => Math.Sqrt(2 * l + 1),
        SphericalHarmonicsNormalization.Integral => Math.Sqrt((2 * l + 1) / (4 * Math.PI)),
        _ => throw new ArgumentOutOfRangeException(nameof(normalization), normalization, "Unknown normalisation."),
    };

    /// <summary>x / |x| with 0 ↦ 0 and finite gradients at 0.</summary>
    internal static Tensor SafeNormalize(Tensor x)
    {
        var r2 = (x * x).sum(-1, keepdim: true);
        var safe = torch.where(r2 > 0, r2, torch.ones_like(r2)).sqrt();
        return x / safe;
    }

    private static int[] Degrees(Irreps irreps)
    {
        ArgumentNullException.ThrowIfNull(irreps);
        var ls = new List<int>();
        foreach (var b in irreps)
        {
            if (b.Irrep != Irrep.SphericalHarmonic(b.Irrep.L))
                throw new ArgumentException($"Irreps '{irreps}': spherical harmonics of degree {b.Irrep.L} have parity {Irrep.SphericalHarmonic(b.Irrep.L)}, not {b.Irrep}.", nameof(irreps));
            for (int c = 0; c < b.Mul; c++) ls.Add(b.Irrep.L);
        }
        return ls.ToArray();
    }

    private static int CheckL(int l) =>
        l < 0 ? throw new ArgumentOutOfRangeException(nameof(l), l, "Degrees must be non-negative.") : l;
}
