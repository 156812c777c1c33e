using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Real Wigner 3j symbols (Clebsch–Gordan coefficients) C[l1, l2, l3] [2l1 + 1, 2l2 + 1, 2l3 + 1] in the
/// basis of <see cref="SphericalHarmonics"/>, computed exactly as e3nn does (complex Clebsch–Gordan by
/// Racah's formula, changed to the real basis, unit Frobenius norm), so they are invariant:
/// Σ D¹_ii' D²_jj' D³_kk' C_i'j'k' = C_ijk. Computed once in float64 and cached.
/// </summary>
public static class Wigner3j
{
    private static readonly Dictionary<(int, int, int), double[]> Cache = new();
    private static readonly object Gate = new();

    /// <summary>True when (l1, l2, l3) satisfy the triangle inequality (only then the symbol is non-zero).</summary>
    public static bool Triangle(int l1, int l2, int l3) => l1 >= 0 && l2 >= 0 && l3 >= 0 && Math.Abs(l1 - l2) <= l3 && l3 <= l1 + l2;

    /// <summary>C as a tensor [2l1 + 1, 2l2 + 1, 2l3 + 1] (a fresh tensor each call).</summary>
    public static Tensor Get(int l1, int l2, int l3, ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        var values = Values(l1, l2, l3);
        var t = torch.tensor(values, new long[] { 2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1 }, dtype: ScalarType.Float64);
        if (dtype == ScalarType.Float64 && (device is null || device.type == DeviceType.CPU)) return t;
        using (t) return t.to(dtype, device ?? CPU);
    }

    /// <summary>C flattened in row-major order (i, j, k), shared cached array: do not modify.</summary>
    public static double[] Values(int l1, int l2, int l3)
    {
        if (!Triangle(l1, l2, l3))
            throw new ArgumentException($"(l1, l2, l3) = ({l1}, {l2}, {l3}) violates the triangle rule |l1 − l2| ≤ l3 ≤ l1 + l2.");
        lock (Gate)
        {
            if (!Cache.TryGetValue((l1, l2, l3), out var v)) Cache[(l1, l2, l3)] = v = Compute(l1, l2, l3);
            return v;
        }
    }

    private static double[] Compute(int l1, int l2, int l3)
    {
        int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
        var q1 = ChangeBasisRealToComplex(l1);
        var q2 = ChangeBasisRealToComplex(l2);
        var q3 = ChangeBasisRealToComplex(l3);
        // Complex CG c[i, k, n] = <l1 m1 l2 m2 | l3 m3>.
        var c = new double[d1, d2, d3];
        for (int i = 0; i < d1; i++)
            for (int k = 0; k < d2; k++)
            {
                int n = i - l1 + k - l2 + l3;
                if (n >= 0 && n < d3) c[i, k, n] = Su2ClebschGordan(l1, i - l1, l2, k - l2, l3, n - l3);
            }
        // real[j, l, m] = Σ q1[i, j] q2[k, l] conj(q3[n, m]) c[i, k, n], one index at a time.
        var a = new Complex[d1, d2, d3]; // [j, k, n]
        for (int j = 0; j < d1; j++)
            for (int i = 0; i < d1; i++)
            {
                if (q1[i, j] == Complex.Zero) continue;
                for (int k = 0; k < d2; k++)
                    for (int n = 0; n < d3; n++)
                        if (c[i, k, n] != 0) a[j, k, n] += q1[i, j] * c[i, k, n];
            }
        var b = new Complex[d1, d2, d3]; // [j, l, n]
        for (int l = 0; l < d2; l++)
            for (int k = 0; k < d2; k++)
            {
                if (q2[k, l] == Complex.Zero) continue;
                for (int j = 0; j < d1; j++)
                    for (int n = 0; n < d3; n++)
                        b[j, l, n] += q2[k, l] * a[j, k, n];
            }
        var result = new double[d1 * d2 * d3];
        double norm2 = 0;
        for (int j = 0; j < d1; j++)
            for (int l = 0; l < d2; l++)
                for (int m = 0; m < d3; m++)
                {
                    Complex s = Complex.Zero;
                    for (int n = 0; n < d3; n++)
                        if (q3[n, m] != Complex.Zero) s += Complex.Conjugate(q3[n, m]) * b[j, l, n];
                    if (Math.Abs(s.Imaginary) > 1e-9)
                        throw new InvalidOperationException($"Internal error: the real 3j symbol ({l1}, {l2}, {l3}) has an imaginary part {s.Imaginary}.");
                    result[(j * d2 + l) * d3 + m] = s.Real;
                    norm2 += s.Real * s.Real;
                }
        double inv = 1 / Math.Sqrt(norm2);
        for (int t = 0; t < result.Length; t++)
        {
            result[t] *= inv;
            if (Math.Abs(result[t]) < 1e-15) result[t] = 0; // exact zeros for the sparse kernels
        }
        return result;
    }

    /// <summary>e3nn's change of basis Q (complex index, real index), including its (−i)^l phase.</summary>
    private static Complex[,] ChangeBasisRealToComplex(int l)
    {
        int d = 2 * l + 1;
        var q = new Complex[d, d];
        double s = 1 / Math.Sqrt(2);
        for (int m = -l; m < 0; m++)
        {
            q[l + m, l - m] = new Complex(s, 0);
            q[l + m, l + m] = new Complex(0, -s);
        }
        q[l, l] = Complex.One;
        for (int m = 1; m <= l; m++)
        {
            double sign = m % 2 == 0 ? 1 : -1;
            q[l + m, l + m] = new Complex(sign * s, 0);
            q[l + m, l - m] = new Complex(0, sign * s);
        }
        var phase = Complex.Pow(new Complex(0, -1), l);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                q[i, j] *= phase;
        return q;
    }

    /// <summary>&lt;j1 m1 j2 m2 | j3 m3&gt; (Condon–Shortley), Racah's formula as in e3nn, with log-factorials.</summary>
    private static double Su2ClebschGordan(int j1, int m1, int j2, int m2, int j3, int m3)
    {
        if (m3 != m1 + m2) return 0;
        int vmin = Math.Max(Math.Max(-j1 + j2 + m3, -j1 + m1), 0);
        int vmax = Math.Min(Math.Min(j2 + j3 + m1, j3 - j1 + j2), j3 + m3);
        double logC = 0.5 * (Math.Log(2.0 * j3 + 1.0) + LogF(j3 + j1 - j2) + LogF(j3 - j1 + j2) + LogF(j1 + j2 - j3) + LogF(j3 + m3) + LogF(j3 - m3)
                             - LogF(j1 + j2 + j3 + 1) - LogF(j1 - m1) - LogF(j1 + m1) - LogF(j2 - m2) - LogF(j2 + m2));
        double sum = 0;
        for (int v = vmin; v <= vmax; v++)
        {
            double sign = ((v + j2 + m2) % 2 == 0) ? 1 : -1;
            double logTerm = LogF(j2 + j3 + m1 - v) + LogF(j1 - m1 + v) - LogF(v) - LogF(j3 - j1 + j2 - v) - LogF(j3 + m3 - v) - LogF(v + j1 - j2 - m3);
            sum += sign * Math.Exp(logTerm + logC);
        }
        return sum;
    }

    private static readonly double[] LogFactorials = BuildLogFactorials(512);

    private static double[] BuildLogFactorials(int n)
    {
        var t = new double[n];
        for (int i = 1; i < n; i++) t[i] = t[i - 1] + Math.Log(i);
        return t;
    }

    private static double LogF(int n) =>
        n < 0 ? throw new InvalidOperationException($"Internal error: factorial of {n}.") : LogFactorials[n];
}
