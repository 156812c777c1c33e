using System.Numerics;
using System.Runtime.CompilerServices;

namespace EquiSharp.Steerable;

/// <summary>
/// A CPU kernel for <see cref="SphericalHarmonics"/>: the same recurrence (azimuthal factors
/// (X + iY)^m, normalised associated Legendre factors in Z and r²) evaluated for
/// <c>Vector&lt;T&gt;.Count</c> vectors at once, one per SIMD lane, without intermediate tensors.
/// The backward pass re-runs the recurrence carrying the three partial derivatives of every term
/// (forward-mode), contracts them with the output gradient and applies the normalisation's
/// Jacobian. The autograd wrapper is <see cref="SphericalHarmonicsFunction"/>.
/// </summary>
internal sealed class SphericalHarmonicsKernel
{
    private readonly int _lmax;
    private readonly int[] _columns; // output column → index l² + (m + l) of the full set 0 … lmax
    private readonly bool _identity;
    private readonly double[] _c0, _c1; // per m: the constant q_m, and q_{m+1} / Z
    private readonly double[][] _a, _b; // per m, per l ≥ m + 2: q_l = a Z q_{l−1} − b r² q_{l−2}

    /// <summary>Creates the kernel for the degrees <paramref name="ls"/> (output order).</summary>
    public SphericalHarmonicsKernel(IReadOnlyList<int> ls, bool normalize, SphericalHarmonicsNormalization normalization)
    {
        _lmax = ls.Max();
        Normalize = normalize;
        _columns = ls.SelectMany(l => Enumerable.Range(l * l, 2 * l + 1)).ToArray();
        _identity = _columns.Length == (_lmax + 1) * (_lmax + 1) && _columns.Select((c, i) => c == i).All(b => b);
        _c0 = new double[_lmax + 1];
        _c1 = new double[_lmax + 1];
        _a = new double[_lmax + 1][];
        _b = new double[_lmax + 1][];
        double cm = 1;
        for (int m = 0; m <= _lmax; m++)
        {
            if (m > 0) cm *= Math.Sqrt((2.0 * m - 1) / (2.0 * m));
            int mm = m;
            double G(int l) => SphericalHarmonics.Factor(l, normalization) * (mm == 0 ? 1 : Math.Sqrt(2));
            _c0[m] = cm * G(m);
            _c1[m] = m + 1 <= _lmax ? Math.Sqrt(2.0 * m + 1) * cm * G(m + 1) : 0;
            _a[m] = new double[_lmax + 1];
            _b[m] = new double[_lmax + 1];
            for (int l = m + 2; l <= _lmax; l++)
            {
                _a[m][l] = (2.0 * l - 1) / Math.Sqrt((double)(l - m) * (l + m)) * G(l) / G(l - 1);
                _b[m][l] = Math.Sqrt((double)(l + m - 1) * (l - m - 1) / ((double)(l - m) * (l + m))) * G(l) / G(l - 2);
            }
        }
    }

    /// <summary>Whether inputs are divided by their length first.</summary>
    public bool Normalize { get; }

    /// <summary>Output columns.</summary>
    public int Dim => _columns.Length;

    private int Full => (_lmax + 1) * (_lmax + 1);

    /// <summary>Blocks per chunk below which the vectors are not split between threads.</summary>
    private const int MinBlocksPerChunk = 256;

    /// <summary>y [n, Dim] = Y(x) for x [n, 3].</summary>
    public unsafe void Forward<T>(T* x, T* y, long n, int threads) where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        int lanes = Vector<T>.Count;
        long blocks = LaneBlocks.BlockCount<T>(n);
        var (px, py) = ((nint)x, (nint)y);
        LaneBlocks.ForEachChunk(blocks, LaneBlocks.Chunks(blocks, threads, MinBlocksPerChunk), (_, b0, b1) =>
        {
            var input = new Vector<T>[3];
            var full = new Vector<T>[Full];
            var output = _identity ? full : new Vector<T>[Dim];
            var cos = new Vector<T>[_lmax + 1];
            var sin = new Vector<T>[_lmax + 1];
            for (long b = b0; b < b1; b++)
            {
                long row0 = b * lanes;
                int rows = (int)Math.Min(lanes, n - row0);
                LaneBlocks.Load((T*)px, row0, rows, 3, input);
                ForwardBlock(input, full, cos, sin);
                if (!_identity) for (int c = 0; c < _columns.Length; c++) output[c] = full[_columns[c]];
                LaneBlocks.Store(output, Dim, (T*)py, row0, rows);
            }
        });
    }

    /// <summary>Unit vectors (or x itself), the inverse lengths and r² for one block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private (Vector<T> Bx, Vector<T> By, Vector<T> Bz, Vector<T> Inverse, Vector<T> NonZero, Vector<T> R2) Prepare<T>(Vector<T>[] input)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        Vector<T> x0 = input[0], x1 = input[1], x2 = input[2];
        var squared = x0 * x0 + x1 * x1 + x2 * x2;
        if (!Normalize) return (x2, x0, x1, Vector<T>.One, Vector<T>.One, squared);
        var positive = Vector.GreaterThan(squared, Vector<T>.Zero);
        var inverse = Vector.ConditionalSelect(positive, Vector<T>.One / Vector.SquareRoot(squared), Vector<T>.One);
        var nonZero = Vector.ConditionalSelect(positive, Vector<T>.One, Vector<T>.Zero);
        // e3nn's y axis is the polar axis: the standard harmonics at (X, Y, Z) = (z, x, y).
        return (x2 * inverse, x0 * inverse, x1 * inverse, inverse, nonZero, nonZero);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardBlock<T>(Vector<T>[] input, Vector<T>[] full, Vector<T>[] cos, Vector<T>[] sin)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var (bx, by, bz, _, _, r2) = Prepare(input);
        if (_lmax >= 1) { cos[1] = bx; sin[1] = by; }
        for (int m = 2; m <= _lmax; m++)
        {
            cos[m] = bx * cos[m - 1] - by * sin[m - 1];
            sin[m] = bx * sin[m - 1] + by * cos[m - 1];
        }
        for (int m = 0; m <= _lmax; m++)
        {
            var q2 = Vector<T>.Zero;
            var q1 = new Vector<T>(T.CreateChecked(_c0[m]));
            for (int l = m; l <= _lmax; l++)
            {
                Vector<T> q;
                if (l == m) q = q1;
                else if (l == m + 1) q = bz * new Vector<T>(T.CreateChecked(_c1[m]));
                else q = new Vector<T>(T.CreateChecked(_a[m][l])) * bz * q1 - new Vector<T>(T.CreateChecked(_b[m][l])) * r2 * q2;
                if (l > m) { q2 = q1; q1 = q; }
                int centre = l * l + l;
                if (m == 0) full[centre] = q;
                else
                {
                    full[centre + m] = q * cos[m];
                    full[centre - m] = q * sin[m];
                }
            }
        }
    }

    /// <summary>A value and its partial derivatives with respect to (X, Y, Z), one lane per vector.</summary>
    private struct Dual<T>(Vector<T> v, Vector<T> dx, Vector<T> dy, Vector<T> dz) where T : unmanaged, INumber<T>
    {
        public Vector<T> V = v, X = dx, Y = dy, Z = dz;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Dual<T> operator *(Dual<T> a, Dual<T> b) => new(a.V * b.V, a.X * b.V + a.V * b.X, a.Y * b.V + a.V * b.Y, a.Z * b.V + a.V * b.Z);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Dual<T> operator *(Dual<T> a, Vector<T> s) => new(a.V * s, a.X * s, a.Y * s, a.Z * s);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Dual<T> operator +(Dual<T> a, Dual<T> b) => new(a.V + b.V, a.X + b.X, a.Y + b.Y, a.Z + b.Z);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Dual<T> operator -(Dual<T> a, Dual<T> b) => new(a.V - b.V, a.X - b.X, a.Y - b.Y, a.Z - b.Z);
    }

    /// <summary>gx [n, 3] = (∂Y/∂x)ᵀ g for x [n, 3] and the output gradient g [n, Dim].</summary>
    public unsafe void Backward<T>(T* x, T* g, T* gx, long n, int threads) where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        int lanes = Vector<T>.Count;
        long blocks = LaneBlocks.BlockCount<T>(n);
        var (px, pg, pgx) = ((nint)x, (nint)g, (nint)gx);
        LaneBlocks.ForEachChunk(blocks, LaneBlocks.Chunks(blocks, threads, MinBlocksPerChunk), (_, b0, b1) =>
        {
            var input = new Vector<T>[3];
            var grad = new Vector<T>[Dim];
            var gfull = new Vector<T>[Full];
            var cos = new Dual<T>[_lmax + 1];
            var sin = new Dual<T>[_lmax + 1];
            var result = new Vector<T>[3];
            for (long b = b0; b < b1; b++)
            {
                long row0 = b * lanes;
                int rows = (int)Math.Min(lanes, n - row0);
                LaneBlocks.Load((T*)px, row0, rows, 3, input);
                LaneBlocks.Load((T*)pg, row0, rows, Dim, grad);
                Array.Clear(gfull);
                for (int c = 0; c < _columns.Length; c++) gfull[_columns[c]] += grad[c];
                BackwardBlock(input, gfull, cos, sin, result);
                LaneBlocks.Store(result, 3, (T*)pgx, row0, rows);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BackwardBlock<T>(Vector<T>[] input, Vector<T>[] gfull, Dual<T>[] cos, Dual<T>[] sin, Vector<T>[] result)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var (vx, vy, vz, inverse, nonZero, r2v) = Prepare(input);
        Vector<T> zero = Vector<T>.Zero, one = Vector<T>.One;
        var bx = new Dual<T>(vx, one, zero, zero);
        var by = new Dual<T>(vy, zero, one, zero);
        var bz = new Dual<T>(vz, zero, zero, one);
        var two = one + one;
        var r2 = Normalize ? new Dual<T>(r2v, zero, zero, zero) : new Dual<T>(r2v, two * vx, two * vy, two * vz);
        if (_lmax >= 1) { cos[1] = bx; sin[1] = by; }
        for (int m = 2; m <= _lmax; m++)
        {
            cos[m] = bx * cos[m - 1] - by * sin[m - 1];
            sin[m] = bx * sin[m - 1] + by * cos[m - 1];
        }
        Vector<T> gX = zero, gY = zero, gZ = zero;
        for (int m = 0; m <= _lmax; m++)
        {
            var q2 = new Dual<T>(zero, zero, zero, zero);
            var q1 = new Dual<T>(new Vector<T>(T.CreateChecked(_c0[m])), zero, zero, zero);
            for (int l = m; l <= _lmax; l++)
            {
                Dual<T> q;
                if (l == m) q = q1;
                else if (l == m + 1) q = bz * new Vector<T>(T.CreateChecked(_c1[m]));
                else q = bz * q1 * new Vector<T>(T.CreateChecked(_a[m][l])) - r2 * q2 * new Vector<T>(T.CreateChecked(_b[m][l]));
                if (l > m) { q2 = q1; q1 = q; }
                int centre = l * l + l;
                if (m == 0)
                {
                    var gv = gfull[centre];
                    gX += gv * q.X; gY += gv * q.Y; gZ += gv * q.Z;
                }
                else
                {
                    var yc = q * cos[m];
                    var ys = q * sin[m];
                    Vector<T> gc = gfull[centre + m], gs = gfull[centre - m];
                    gX += gc * yc.X + gs * ys.X;
                    gY += gc * yc.Y + gs * ys.Y;
                    gZ += gc * yc.Z + gs * ys.Z;
                }
            }
        }
        // (X, Y, Z) = (v2, v0, v1); then through v = x / |x| (identity at x = 0).
        Vector<T> g0 = gY, g1 = gZ, g2 = gX;
        if (Normalize)
        {
            // v0, v1, v2 = vy, vz, vx
            var dot = (vy * g0 + vz * g1 + vx * g2) * nonZero;
            g0 = (g0 - vy * dot) * inverse;
            g1 = (g1 - vz * dot) * inverse;
            g2 = (g2 - vx * dot) * inverse;
        }
        result[0] = g0; result[1] = g1; result[2] = g2;
    }
}
