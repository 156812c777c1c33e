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
        if (UseKernel && x.device_type == DeviceType.CPU && x.dtype is ScalarType.Float32 or ScalarType.Float64
            && x.numel() / 3 * (long)ls.Sum(l => 2 * l + 1) * x.element_size() < int.MaxValue)
        {
            using var kernelScope = torch.NewDisposeScope();
            var key = (string.Join(",", ls), normalize, normalization);
            SphericalHarmonicsKernel kernel;
            lock (Kernels)
                if (!Kernels.TryGetValue(key, out kernel!)) Kernels[key] = kernel = new SphericalHarmonicsKernel(ls, normalize, normalization);
            var lsCopy = ls.ToArray();
            var flat = x.reshape(-1, 3).contiguous();
            var y = SphericalHarmonicsFunction.Apply(new SphericalHarmonicsFunction.Setup(kernel, v => Composite(lsCopy, v, normalize, normalization)), flat);
            return y.reshape(x.shape[..^1].Append(kernel.Dim).ToArray()).MoveToOuterDisposeScope();
        }
        return Composite(ls, x, normalize, normalization);
    }

    /// <summary>
    /// Evaluate float32/float64 CPU inputs with the hand-written kernel (<see cref="SphericalHarmonicsKernel"/>,
    /// default true); false: always the composite of tensor operations. Both agree to rounding;
    /// the composite also serves other devices and differentiating the backward pass.
    /// </summary>
    public static bool UseKernel { get; set; } = true;

    private static readonly Dictionary<(string, bool, SphericalHarmonicsNormalization), SphericalHarmonicsKernel> Kernels = new();

    /// <summary>Y(x) with ordinary differentiable tensor operations (any device; double backward works).</summary>
    private static Tensor Composite(IReadOnlyList<int> ls, Tensor x, bool normalize, SphericalHarmonicsNormalization normalization)
    {
        using var scope = torch.NewDisposeScope();
        int lmax = ls.Max();
        Tensor v;
        Tensor? r2 = null;
        if (normalize)
        {
            var squared = (x * x).sum(-1, keepdim: true);
            var nonzero = squared > 0;
            v = x / torch.where(nonzero, squared, 1.0).sqrt();
            // |v|² is exactly 1, or 0 for the zero vector: a constant without gradient keeps the
            // polynomials homogeneous (Y_l(0) = 0 for l > 0) at the cost of one mask.
            if (lmax >= 2) r2 = nonzero.squeeze(-1).to(x.dtype);
        }
        else v = x;
        // e3nn's y axis is the polar axis: the standard real harmonics evaluated at (X, Y, Z) = (z, x, y).
        var bx = v[TensorIndex.Ellipsis, 2];
        var by = v[TensorIndex.Ellipsis, 0];
        var bz = v[TensorIndex.Ellipsis, 1];
        if (lmax >= 2 && r2 is null) r2 = bx * bx + by * by + bz * bz;

        // C_m + i S_m = (X + i Y)^m, the azimuthal factors times sin^m θ.
        var cos = new Tensor[lmax + 1];
        var sin = new Tensor[lmax + 1];
        if (lmax >= 1) { cos[1] = bx; sin[1] = by; }
        for (int m = 2; m <= lmax; m++)
        {
            cos[m] = (bx * cos[m - 1]).sub_(by * sin[m - 1]);
            sin[m] = (bx * sin[m - 1]).add_(by * cos[m - 1]);
        }

        var needed = new HashSet<int>(ls);
        var components = new Dictionary<int, Tensor[]>();
        foreach (var l in needed) components[l] = new Tensor[2 * l + 1];

        // Column m of the normalised associated Legendre factors, polynomials in Z and r². Each Q[l]
        // already carries its output factor g_l = F(l) (√2 for m > 0), so the recurrence
        // P_l = a Z P_{l−1} − b r² P_{l−2} becomes Q_l = a g_l/g_{l−1} Z Q_{l−1} − b g_l/g_{l−2} r² Q_{l−2}.
        // Q[m] is the constant cm·g_m, represented by null.
        double cm = 1;
        for (int m = 0; m <= lmax; m++)
        {
            if (m > 0) cm *= Math.Sqrt((2.0 * m - 1) / (2.0 * m));
            double G(int l) => Factor(l, normalization) * (m == 0 ? 1 : Math.Sqrt(2));
            var q = new Tensor?[lmax + 1];
            for (int l = m; l <= lmax; l++)
            {
                if (l == m + 1) q[l] = bz * (Math.Sqrt(2.0 * m + 1) * cm * G(l));
                else if (l >= m + 2)
                {
                    double a = (2.0 * l - 1) / Math.Sqrt((double)(l - m) * (l + m)) * G(l) / G(l - 1);
                    double b = Math.Sqrt((double)(l + m - 1) * (l - m - 1) / ((double)(l - m) * (l + m))) * G(l) / G(l - 2);
                    var next = (bz * q[l - 1]!).mul_(a);
                    q[l] = q[l - 2] is null ? next.add_(r2!, -b * cm * G(l - 2)) : next.add_(r2! * q[l - 2]!, -b);
                }
                if (!needed.Contains(l)) continue;
                var target = components[l];
                double constant = cm * G(l);
                if (m == 0)
                    target[l] = q[l] is null ? torch.full_like(bz, constant) : q[l]!;
                else if (q[l] is null)
                {
                    target[l + m] = cos[m] * constant;
                    target[l - m] = sin[m] * constant;
                }
                else
                {
                    target[l + m] = q[l]! * cos[m];
                    target[l - m] = q[l]! * sin[m];
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
