using System.Numerics;
using System.Runtime.CompilerServices;

namespace EquiSharp.Steerable;

/// <summary>
/// A CPU kernel for the tensor products models use most: every path uvu or uvw and input 2 of
/// multiplicity 1 (spherical harmonics of an edge, a steerable attribute). It touches only the
/// non-zero 3j entries and makes no intermediate tensor. Rows are processed in blocks of
/// <c>Vector&lt;T&gt;.Count</c> (8 in float32 with AVX2), one row per SIMD lane, so every loop over
/// channels, 3j entries and weights is a plain vector multiply-add whatever the irreps' sizes:
/// no horizontal sums, no channel tails, and the loop overhead is shared by the rows of a block.
/// Forward and backward (gradients of both inputs and the weights) are hand-written; the autograd
/// wrapper is <see cref="TensorProductFunction"/>.
/// </summary>
/// <remarks>Per row and path: M[i, k] = Σ_j c_ijk x2[j] over the non-zero entries, t[k, u] =
/// Σ_i M[i, k] x1[u, i]; uvu adds w[u] t[k, u] to output channel u, uvw adds Σ_u t[k, u] W[u, w]
/// to channel w. Rows are split into one contiguous chunk per thread (chunk boundaries on block
/// boundaries), so results are repeatable for a given thread count.</remarks>
internal sealed class TensorProductKernel
{
    private readonly Path[] _paths;
    private readonly int _maxPairs, _maxT, _maxDense;

    /// <summary>One path: offsets, sizes, and the non-zero (i, k) pairs of its 3j symbol, sorted by k.</summary>
    private sealed class Path
    {
        public int X1Offset, OutOffset, In2Offset, U, D1, W, DO, WeightOffset;
        public bool Uvw, Weighted;
        /// <summary>M is diagonal (input 2 of degree 0): only the pairs (k, k).</summary>
        public bool Diagonal;
        public int[] PairI = [], PairK = [], PairStart = [], KStart = [], EntryJ = [];
        public double[] EntryC = [];
    }

    private TensorProductKernel(Path[] paths, int dim1, int dim2, int dimOut, long weightNumel)
    {
        _paths = paths;
        Dim1 = dim1; Dim2 = dim2; DimOut = dimOut; WeightNumel = weightNumel;
        _maxPairs = paths.Length == 0 ? 1 : Math.Max(1, paths.Max(p => p.PairI.Length));
        _maxT = paths.Length == 0 ? 1 : Math.Max(1, paths.Max(p => p.DO * p.U)); // t and gt are [2l_out + 1, u]
        _maxDense = paths.Length == 0 ? 1 : Math.Max(1, paths.Max(p => p.DO * p.D1)); // M as a dense [2l_out + 1, 2l_1 + 1] block
    }

    /// <summary>Row size of input 1.</summary>
    public int Dim1 { get; }

    /// <summary>Row size of input 2.</summary>
    public int Dim2 { get; }

    /// <summary>Row size of the output.</summary>
    public int DimOut { get; }

    /// <summary>Weights per row (or shared).</summary>
    public long WeightNumel { get; }

    /// <summary>The largest u·w of the weighted uvw paths (0 when there are none).</summary>
    public int LargestUvw => _paths.Where(p => p.Uvw).Select(p => p.U * p.W).DefaultIfEmpty(0).Max();

    /// <summary>
    /// The kernel for these paths, or null when one of them is outside its scope (input-2 block of
    /// multiplicity ≠ 1, or a mode other than uvu/uvw).
    /// </summary>
    /// <param name="in1">Irreps of input 1.</param>
    /// <param name="in2">Irreps of input 2.</param>
    /// <param name="out">Irreps of the output.</param>
    /// <param name="paths">Per path: instruction, weight offset and coefficient (scaling its unit-norm 3j symbol).</param>
    /// <param name="weightNumel">Weights per row.</param>
    public static TensorProductKernel? TryCreate(Irreps in1, Irreps in2, Irreps @out,
        IReadOnlyList<(TensorProductInstruction Ins, long WeightOffset, double Coefficient)> paths, long weightNumel)
    {
        if (weightNumel > int.MaxValue / 16) return null;
        var list = new List<Path>();
        foreach (var (ins, offset, coefficient) in paths)
        {
            var (m1, m2, mo) = (in1[ins.In1], in2[ins.In2], @out[ins.Out]);
            if (m1.Mul == 0 || m2.Mul == 0 || mo.Mul == 0) continue;
            if (m2.Mul != 1 || ins.Mode is not (ConnectionMode.Uvu or ConnectionMode.Uvw)) return null;
            int l1 = m1.Irrep.L, l2 = m2.Irrep.L, lo = mo.Irrep.L;
            int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, dO = 2 * lo + 1;
            var c = Wigner3j.Values(l1, l2, lo); // [i, j, k] row-major
            var pairs = new List<(int I, int K, List<(int J, double C)> Entries)>();
            for (int k = 0; k < dO; k++)
                for (int i = 0; i < d1; i++)
                {
                    var entries = new List<(int, double)>();
                    for (int j = 0; j < d2; j++)
                    {
                        double v = c[(i * d2 + j) * dO + k];
                        if (Math.Abs(v) > 1e-14) entries.Add((j, v * coefficient));
                    }
                    if (entries.Count > 0) pairs.Add((i, k, entries));
                }
            var path = new Path
            {
                X1Offset = in1.Offsets[ins.In1], OutOffset = @out.Offsets[ins.Out], In2Offset = in2.Offsets[ins.In2],
                U = m1.Mul, D1 = d1, W = mo.Mul, DO = dO, WeightOffset = (int)offset,
                Uvw = ins.Mode == ConnectionMode.Uvw, Weighted = ins.HasWeight,
                PairI = pairs.Select(p => p.I).ToArray(),
                PairK = pairs.Select(p => p.K).ToArray(),
                PairStart = new int[pairs.Count + 1],
                KStart = new int[dO + 1],
                EntryJ = pairs.SelectMany(p => p.Entries.Select(e => e.J)).ToArray(),
                EntryC = pairs.SelectMany(p => p.Entries.Select(e => e.C)).ToArray(),
            };
            path.Diagonal = d1 == dO && pairs.Count == dO && pairs.All(p => p.I == p.K);
            for (int p = 0; p < pairs.Count; p++) path.PairStart[p + 1] = path.PairStart[p] + pairs[p].Entries.Count;
            for (int k = 0, p = 0; k <= dO; k++)
            {
                while (p < pairs.Count && pairs[p].K < k) p++;
                path.KStart[k] = p;
            }
            list.Add(path);
        }
        return new TensorProductKernel(list.ToArray(), in1.Dim, in2.Dim, @out.Dim, weightNumel);
    }

    /// <summary>Blocks per chunk below which the rows are not split between threads.</summary>
    private const int MinBlocksPerChunk = 64;

    // ------------------------------------------------------------------ forward

    /// <summary>out [n, DimOut] = the product of x1 [n, Dim1] and x2 [n, Dim2] with weights w ([WeightNumel] shared, [n, WeightNumel] per row, or none).</summary>
    public unsafe void Forward<T>(T* x1, T* x2, T* w, bool perRow, T* output, long n, int threads)
        where T : unmanaged, INumber<T>
    {
        var coefficients = Coefficients<T>();
        long blocks = LaneBlocks.BlockCount<T>(n);
        var (px1, px2, pw, pout) = ((nint)x1, (nint)x2, (nint)w, (nint)output);
        LaneBlocks.ForEachChunk(blocks, LaneBlocks.Chunks(blocks, threads, MinBlocksPerChunk),
            (_, b0, b1) => ForwardBlocks((T*)px1, (T*)px2, (T*)pw, perRow, (T*)pout, n, b0, b1, coefficients));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void ForwardBlocks<T>(T* x1, T* x2, T* w, bool perRow, T* output, long n, long b0, long b1, T[][] coefficients)
        where T : unmanaged, INumber<T>
    {
        int lanes = Vector<T>.Count;
        var x = new Vector<T>[Dim1];
        var y = new Vector<T>[Math.Max(1, Dim2)];
        var o = new Vector<T>[DimOut];
        var m = new Vector<T>[_maxPairs];
        var t = new Vector<T>[_maxT];
        var dense = new Vector<T>[_maxDense];
        var wv = perRow && w != null ? new Vector<T>[WeightNumel] : null;
        fixed (Vector<T>* xs = x, ys = y, os = o, ms = m, ts = t, ds = dense, wvs = wv)
            for (long b = b0; b < b1; b++)
            {
                long row0 = b * lanes;
                int rows = (int)Math.Min(lanes, n - row0);
                LaneBlocks.Load(x1, row0, rows, Dim1, x);
                LaneBlocks.Load(x2, row0, rows, Dim2, y);
                if (wv is not null) LaneBlocks.Load(w, row0, rows, (int)WeightNumel, wv);
                Array.Clear(o);
                for (int p = 0; p < _paths.Length; p++)
                {
                    var path = _paths[p];
                    PairValues(path, ys, coefficients[p], ms);
                    if (path.Uvw)
                    {
                        PathT(path, xs, ms, ts);
                        if (wvs != null) ContractUvwPerRow(path, ts, wvs + path.WeightOffset, os + path.OutOffset);
                        else ContractUvwShared(path, ts, w + path.WeightOffset, os + path.OutOffset);
                    }
                    else if (!path.Weighted) ForwardUvu(path, xs, ms, os, null, null, ds);
                    else if (wvs != null) ForwardUvu(path, xs, ms, os, wvs + path.WeightOffset, null, ds);
                    else ForwardUvu(path, xs, ms, os, null, w + path.WeightOffset, ds);
                }
                LaneBlocks.Store(o, DimOut, output, row0, rows);
            }
    }

    /// <summary>M[pair] = Σ_j c x2[j] for each non-zero pair (i, k).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PairValues<T>(Path path, Vector<T>* y, T[] c, Vector<T>* m) where T : unmanaged, INumber<T>
    {
        Vector<T>* yp = y + path.In2Offset;
        int pairs = path.PairI.Length;
        fixed (int* start = path.PairStart, js = path.EntryJ)
        fixed (T* cs = c)
            for (int p = 0; p < pairs; p++)
            {
                var s = Vector<T>.Zero;
                for (int e = start[p], end = start[p + 1]; e < end; e++) s += new Vector<T>(cs[e]) * yp[js[e]];
                m[p] = s;
            }
    }

    /// <summary>t[k, u] = Σ_i M[i, k] x[i, u] for every k (zero where k has no pair).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PathT<T>(Path path, Vector<T>* x, Vector<T>* m, Vector<T>* t) where T : unmanaged, INumber<T>
    {
        int u = path.U, d1 = path.D1;
        Vector<T>* xb = x + path.X1Offset;
        fixed (int* pairI = path.PairI, kStart = path.KStart)
            for (int k = 0; k < path.DO; k++)
            {
                Vector<T>* tk = t + k * u;
                int p0 = kStart[k], p1 = kStart[k + 1];
                if (p0 == p1) { for (int c = 0; c < u; c++) tk[c] = Vector<T>.Zero; continue; }
                {
                    var mv = m[p0];
                    Vector<T>* xi = xb + pairI[p0];
                    for (int c = 0; c < u; c++) tk[c] = mv * xi[c * d1];
                }
                for (int p = p0 + 1; p < p1; p++)
                {
                    var mv = m[p];
                    Vector<T>* xi = xb + pairI[p];
                    for (int c = 0; c < u; c++) tk[c] += mv * xi[c * d1];
                }
            }
    }

    /// <summary>
    /// uvu in one pass: o[c, k] += w[c] Σ_i M[i, k] x[c, i] (per-row weights <paramref name="wRow"/>,
    /// shared <paramref name="wShared"/>, or none). M is first spread into a dense [k, i] block, so the
    /// loop runs channel by channel over contiguous x[c, :] and o[c, :] with the weight loaded once per
    /// channel; input and output degrees 0 and 1 (the common case) are unrolled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ForwardUvu<T>(Path path, Vector<T>* x, Vector<T>* m, Vector<T>* o, Vector<T>* wRow, T* wShared, Vector<T>* dense)
        where T : unmanaged, INumber<T>
    {
        int u = path.U, d1 = path.D1, dO = path.DO;
        Vector<T>* xb = x + path.X1Offset, ob = o + path.OutOffset;
        bool perRow = wRow != null, shared = wShared != null;
        if (path.Diagonal && d1 > 1)
        {
            for (int c = 0; c < u; c++)
            {
                Vector<T>* xc = xb + c * d1, oc = ob + c * d1;
                var wc = perRow ? wRow[c] : shared ? new Vector<T>(wShared[c]) : Vector<T>.One;
                for (int k = 0; k < d1; k++) oc[k] += m[k] * xc[k] * wc;
            }
            return;
        }
        for (int q = 0; q < d1 * dO; q++) dense[q] = Vector<T>.Zero;
        fixed (int* pairI = path.PairI, pairK = path.PairK)
            for (int p = 0; p < path.PairI.Length; p++) dense[pairK[p] * d1 + pairI[p]] = m[p];
        if (d1 == 1)
        {
            for (int c = 0; c < u; c++)
            {
                var s = xb[c];
                if (perRow) s *= wRow[c];
                else if (shared) s *= new Vector<T>(wShared[c]);
                Vector<T>* oc = ob + c * dO;
                for (int k = 0; k < dO; k++) oc[k] += s * dense[k];
            }
            return;
        }
        if (d1 == 3)
        {
            for (int c = 0; c < u; c++)
            {
                Vector<T>* xc = xb + 3 * c, oc = ob + c * dO, mk = dense;
                var (x0, x1, x2) = (xc[0], xc[1], xc[2]);
                if (perRow) { var wc = wRow[c]; x0 *= wc; x1 *= wc; x2 *= wc; }
                else if (shared) { var wc = new Vector<T>(wShared[c]); x0 *= wc; x1 *= wc; x2 *= wc; }
                for (int k = 0; k < dO; k++, mk += 3) oc[k] += mk[0] * x0 + mk[1] * x1 + mk[2] * x2;
            }
            return;
        }
        for (int c = 0; c < u; c++)
        {
            Vector<T>* xc = xb + c * d1, oc = ob + c * dO, mk = dense;
            var wc = perRow ? wRow[c] : shared ? new Vector<T>(wShared[c]) : Vector<T>.One;
            for (int k = 0; k < dO; k++, mk += d1)
            {
                var acc = mk[0] * xc[0];
                for (int i = 1; i < d1; i++) acc += mk[i] * xc[i];
                oc[k] += acc * wc;
            }
        }
    }

    /// <summary>o[k, d] += Σ_c t[k, c] W[c, d] with shared weights W [u, w] (four d at a time: independent FMA chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ContractUvwShared<T>(Path path, Vector<T>* t, T* w, Vector<T>* o) where T : unmanaged, INumber<T>
    {
        int u = path.U, wo = path.W, dO = path.DO;
        for (int k = 0; k < dO; k++)
        {
            if (path.KStart[k] == path.KStart[k + 1]) continue;
            Vector<T>* tk = t + k * u, ok = o + k;
            int d = 0;
            for (; d + 4 <= wo; d += 4)
            {
                Vector<T> a0 = ok[d * dO], a1 = ok[(d + 1) * dO], a2 = ok[(d + 2) * dO], a3 = ok[(d + 3) * dO];
                T* wc = w + d;
                for (int c = 0; c < u; c++, wc += wo)
                {
                    var tv = tk[c];
                    a0 += tv * new Vector<T>(wc[0]); a1 += tv * new Vector<T>(wc[1]);
                    a2 += tv * new Vector<T>(wc[2]); a3 += tv * new Vector<T>(wc[3]);
                }
                ok[d * dO] = a0; ok[(d + 1) * dO] = a1; ok[(d + 2) * dO] = a2; ok[(d + 3) * dO] = a3;
            }
            for (; d < wo; d++)
            {
                var a = ok[d * dO];
                for (int c = 0; c < u; c++) a += tk[c] * new Vector<T>(w[c * wo + d]);
                ok[d * dO] = a;
            }
        }
    }

    /// <summary>o[k, d] += Σ_c t[k, c] W[c, d] with per-row weights (one row per lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ContractUvwPerRow<T>(Path path, Vector<T>* t, Vector<T>* w, Vector<T>* o) where T : unmanaged, INumber<T>
    {
        int u = path.U, wo = path.W, dO = path.DO;
        for (int k = 0; k < dO; k++)
        {
            if (path.KStart[k] == path.KStart[k + 1]) continue;
            Vector<T>* tk = t + k * u, ok = o + k;
            for (int c = 0; c < u; c++)
            {
                var tv = tk[c];
                Vector<T>* wc = w + c * wo;
                for (int d = 0; d < wo; d++) ok[d * dO] += tv * wc[d];
            }
        }
    }

    // ------------------------------------------------------------------ backward

    /// <summary>
    /// Gradients for the output gradient g [n, DimOut]: gx1 [n, Dim1], gx2 [n, Dim2], gw ([WeightNumel]
    /// shared or [n, WeightNumel] per row); each may be null when not wanted. Outputs are overwritten.
    /// </summary>
    public unsafe void Backward<T>(T* x1, T* x2, T* w, bool perRow, T* g, T* gx1, T* gx2, T* gw, long n, int threads)
        where T : unmanaged, INumber<T>
    {
        var coefficients = Coefficients<T>();
        long blocks = LaneBlocks.BlockCount<T>(n);
        int chunks = LaneBlocks.Chunks(blocks, threads, MinBlocksPerChunk);
        bool sharedGrad = gw != null && !perRow;
        var partial = sharedGrad ? new Vector<T>[chunks][] : null;
        var (px1, px2, pw, pg, pgx1, pgx2, pgw) = ((nint)x1, (nint)x2, (nint)w, (nint)g, (nint)gx1, (nint)gx2, (nint)gw);
        LaneBlocks.ForEachChunk(blocks, chunks, (c, b0, b1) =>
        {
            Vector<T>[]? local = sharedGrad ? partial![c] = new Vector<T>[WeightNumel] : null;
            BackwardBlocks((T*)px1, (T*)px2, (T*)pw, perRow, (T*)pg, (T*)pgx1, (T*)pgx2, (T*)pgw, local, n, b0, b1, coefficients);
        });
        if (sharedGrad)
            for (long i = 0; i < WeightNumel; i++)
            {
                T s = T.Zero;
                for (int c = 0; c < chunks; c++) s += Vector.Sum(partial![c][i]);
                gw[i] = s;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void BackwardBlocks<T>(T* x1, T* x2, T* w, bool perRow, T* g, T* gx1, T* gx2, T* gwRows, Vector<T>[]? gwShared,
        long n, long b0, long b1, T[][] coefficients)
        where T : unmanaged, INumber<T>
    {
        int lanes = Vector<T>.Count;
        var x = new Vector<T>[Dim1];
        var y = new Vector<T>[Math.Max(1, Dim2)];
        var gd = new Vector<T>[DimOut];
        var gx = new Vector<T>[Dim1];
        var gy = new Vector<T>[Math.Max(1, Dim2)];
        var m = new Vector<T>[_maxPairs];
        var gm = new Vector<T>[_maxPairs];
        var t = new Vector<T>[_maxT];
        var gt = new Vector<T>[_maxT];
        bool rowWeights = perRow && w != null;
        var wv = rowWeights ? new Vector<T>[WeightNumel] : null;
        var gwv = rowWeights && gwRows != null ? new Vector<T>[WeightNumel] : null;
        bool wantW = gwv is not null || gwShared is not null;
        fixed (Vector<T>* xs = x, ys = y, gds = gd, gxs = gx, gys = gy, ms = m, gms = gm, ts = t, gts = gt, wvs = wv, gwvs = gwv, gws = gwShared)
            for (long b = b0; b < b1; b++)
            {
                long row0 = b * lanes;
                int rows = (int)Math.Min(lanes, n - row0);
                LaneBlocks.Load(x1, row0, rows, Dim1, x);
                LaneBlocks.Load(x2, row0, rows, Dim2, y);
                LaneBlocks.Load(g, row0, rows, DimOut, gd);
                if (wv is not null) LaneBlocks.Load(w, row0, rows, (int)WeightNumel, wv);
                if (gx1 != null) Array.Clear(gx);
                if (gx2 != null) Array.Clear(gy);
                if (gwv is not null) Array.Clear(gwv);
                Vector<T>* gwBase = gwvs != null ? gwvs : gws;
                for (int p = 0; p < _paths.Length; p++)
                {
                    var path = _paths[p];
                    int u = path.U;
                    PairValues(path, ys, coefficients[p], ms);
                    bool needT = wantW && path.Weighted;
                    if (needT) PathT(path, xs, ms, ts);
                    Vector<T>* gp = gds + path.OutOffset;
                    if (path.Uvw)
                    {
                        if (wvs != null) GradUvwPerRow(path, gp, wvs + path.WeightOffset, ts, needT ? gwBase + path.WeightOffset : null, gts);
                        else GradUvwShared(path, gp, w + path.WeightOffset, ts, needT ? gwBase + path.WeightOffset : null, gts);
                    }
                    else
                    {
                        int dO = path.DO;
                        for (int k = 0; k < dO; k++)
                        {
                            Vector<T>* gk = gp + k, gtk = gts + k * u;
                            if (!path.Weighted) { for (int c = 0; c < u; c++) gtk[c] = gk[c * dO]; continue; }
                            if (needT)
                            {
                                Vector<T>* tk = ts + k * u, gwc = gwBase + path.WeightOffset;
                                for (int c = 0; c < u; c++) gwc[c] += tk[c] * gk[c * dO];
                            }
                            if (wvs != null) { Vector<T>* wp = wvs + path.WeightOffset; for (int c = 0; c < u; c++) gtk[c] = gk[c * dO] * wp[c]; }
                            else { T* wp = w + path.WeightOffset; for (int c = 0; c < u; c++) gtk[c] = gk[c * dO] * new Vector<T>(wp[c]); }
                        }
                    }
                    // gx[i, u] += Σ_k M[i, k] gt[k, u];  gM[i, k] = Σ_u x[i, u] gt[k, u];  gy[j] += Σ c gM
                    int d1 = path.D1;
                    Vector<T>* xb = xs + path.X1Offset, gxb = gxs + path.X1Offset;
                    for (int q = 0; q < path.PairI.Length; q++)
                    {
                        Vector<T>* gtk = gts + path.PairK[q] * u;
                        if (gx1 != null)
                        {
                            Vector<T>* gxi = gxb + path.PairI[q];
                            var mv = ms[q];
                            for (int c = 0; c < u; c++) gxi[c * d1] += mv * gtk[c];
                        }
                        if (gx2 != null)
                        {
                            Vector<T>* xi = xb + path.PairI[q];
                            var dot = Vector<T>.Zero;
                            for (int c = 0; c < u; c++) dot += xi[c * d1] * gtk[c];
                            gms[q] = dot;
                        }
                    }
                    if (gx2 == null) continue;
                    var cs = coefficients[p];
                    Vector<T>* gyp = gys + path.In2Offset;
                    for (int q = 0; q < path.PairI.Length; q++)
                        for (int e = path.PairStart[q]; e < path.PairStart[q + 1]; e++) gyp[path.EntryJ[e]] += new Vector<T>(cs[e]) * gms[q];
                }
                if (gx1 != null) LaneBlocks.Store(gx, Dim1, gx1, row0, rows);
                if (gx2 != null) LaneBlocks.Store(gy, Dim2, gx2, row0, rows);
                if (gwv is not null) LaneBlocks.Store(gwv, (int)WeightNumel, gwRows, row0, rows);
            }
    }

    /// <summary>
    /// Shared weights W [u, w]: gt[k, c] = Σ_d g[k, d] W[c, d] (four c at a time, sharing each
    /// gradient load) and, when <paramref name="gw"/> is given, gW[c, d] += Σ_k t[k, c] g[k, d]
    /// (four d at a time: each accumulator is loaded and stored once per (c, d), not once per k).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GradUvwShared<T>(Path path, Vector<T>* g, T* w, Vector<T>* t, Vector<T>* gw, Vector<T>* gt) where T : unmanaged, INumber<T>
    {
        int u = path.U, wo = path.W, dO = path.DO;
        for (int k = 0; k < dO; k++)
        {
            Vector<T>* gk = g + k, gtk = gt + k * u;
            int c = 0;
            for (; c + 4 <= u; c += 4)
            {
                Vector<T> s0 = Vector<T>.Zero, s1 = Vector<T>.Zero, s2 = Vector<T>.Zero, s3 = Vector<T>.Zero;
                T* w0 = w + c * wo;
                for (int d = 0; d < wo; d++)
                {
                    var gv = gk[d * dO];
                    s0 += gv * new Vector<T>(w0[d]); s1 += gv * new Vector<T>(w0[wo + d]);
                    s2 += gv * new Vector<T>(w0[2 * wo + d]); s3 += gv * new Vector<T>(w0[3 * wo + d]);
                }
                gtk[c] = s0; gtk[c + 1] = s1; gtk[c + 2] = s2; gtk[c + 3] = s3;
            }
            for (; c < u; c++)
            {
                var s = Vector<T>.Zero;
                T* wc = w + c * wo;
                for (int d = 0; d < wo; d++) s += gk[d * dO] * new Vector<T>(wc[d]);
                gtk[c] = s;
            }
        }
        if (gw != null) AccumulateWeightGradient(path, g, t, gw);
    }

    /// <summary>Per-row weights: gt[k, c] = Σ_d g[k, d] W[c, d] and gW[c, d] += Σ_k t[k, c] g[k, d] lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GradUvwPerRow<T>(Path path, Vector<T>* g, Vector<T>* w, Vector<T>* t, Vector<T>* gw, Vector<T>* gt) where T : unmanaged, INumber<T>
    {
        int u = path.U, wo = path.W, dO = path.DO;
        for (int k = 0; k < dO; k++)
        {
            Vector<T>* gk = g + k, gtk = gt + k * u;
            for (int c = 0; c < u; c++)
            {
                var s = Vector<T>.Zero;
                Vector<T>* wc = w + c * wo;
                for (int d = 0; d < wo; d++) s += gk[d * dO] * wc[d];
                gtk[c] = s;
            }
        }
        if (gw != null) AccumulateWeightGradient(path, g, t, gw);
    }

    /// <summary>gW[c, d] += Σ_k t[k, c] g[k, d] (per lane; four d at a time).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AccumulateWeightGradient<T>(Path path, Vector<T>* g, Vector<T>* t, Vector<T>* gw) where T : unmanaged, INumber<T>
    {
        int u = path.U, wo = path.W, dO = path.DO;
        for (int c = 0; c < u; c++)
        {
            Vector<T>* gwc = gw + c * wo;
            int d = 0;
            for (; d + 4 <= wo; d += 4)
            {
                Vector<T> a0 = gwc[d], a1 = gwc[d + 1], a2 = gwc[d + 2], a3 = gwc[d + 3];
                Vector<T>* gd = g + d * dO;
                for (int k = 0; k < dO; k++)
                {
                    var tv = t[k * u + c];
                    a0 += tv * gd[k]; a1 += tv * gd[dO + k]; a2 += tv * gd[2 * dO + k]; a3 += tv * gd[3 * dO + k];
                }
                gwc[d] = a0; gwc[d + 1] = a1; gwc[d + 2] = a2; gwc[d + 3] = a3;
            }
            for (; d < wo; d++)
            {
                var a = gwc[d];
                for (int k = 0; k < dO; k++) a += t[k * u + c] * g[d * dO + k];
                gwc[d] = a;
            }
        }
    }

    private readonly Dictionary<Type, object> _coefficients = new();

    /// <summary>The 3j entries of every path converted to T once.</summary>
    private T[][] Coefficients<T>() where T : unmanaged, INumber<T>
    {
        lock (_coefficients)
        {
            if (_coefficients.TryGetValue(typeof(T), out var cached)) return (T[][])cached;
            var result = _paths.Select(p => p.EntryC.Select(T.CreateChecked).ToArray()).ToArray();
            _coefficients[typeof(T)] = result;
            return result;
        }
    }
}
