using System.Numerics;
using EquiSharp.Steerable;

namespace EquiSharp.MessagePassing;

/// <summary>
/// EGNN's attention-gated message in one pass over the edges: m = SiLU(y), out = m · σ(m·a + c) per
/// row of y [E, H] (a [H], c scalar). The composite takes a SiLU, a matrix-vector product, a sigmoid
/// and a broadcast product forward, and about twice as many passes over [E, H] backward.
/// </summary>
internal static class SiluGateKernel
{
    private const int MinRowsPerChunk = 1024;


    /// <summary>out[e] = SiLU(y[e]) σ(SiLU(y[e])·a + c).</summary>
    public static unsafe void Forward<T>(T* y, T* a, T c, T* output, long rows, int hidden, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (ny, na, no) = ((nint)y, (nint)a, (nint)output);
        LaneBlocks.ForEachChunk(rows, LaneBlocks.Chunks(rows, threads, MinRowsPerChunk), (_, r0, r1) =>
        {
            T* yy = (T*)ny, aa = (T*)na, oo = (T*)no;
            for (long r = r0; r < r1; r++)
            {
                T* yr = yy + r * hidden, orow = oo + r * hidden;
                // The row's m goes into the output first; the gate scales it in place.
                T dot = T.Zero;
                int k = 0;
                var acc = Vector<T>.Zero;
                for (; k <= hidden - Vector<T>.Count; k += Vector<T>.Count)
                {
                    var v = Vector.Load(yr + k);
                    var m = v * VectorMath.Sigmoid(v);
                    m.Store(orow + k);
                    acc += m * Vector.Load(aa + k);
                }
                dot = Vector.Sum(acc);
                for (; k < hidden; k++)
                {
                    T m = yr[k] * VectorMath.Sigmoid(yr[k]);
                    orow[k] = m;
                    dot += m * aa[k];
                }
                T s = VectorMath.Sigmoid(dot + c);
                var vs = new Vector<T>(s);
                k = 0;
                for (; k <= hidden - Vector<T>.Count; k += Vector<T>.Count) (Vector.Load(orow + k) * vs).Store(orow + k);
                for (; k < hidden; k++) orow[k] *= s;
            }
        });
    }

    /// <summary>
    /// Backward: with m = SiLU(y), s = σ(m·a + c), gm = g·m and q = gm s (1 − s):
    /// dy = (g s + q a) ⊙ SiLU'(y), da = Σ_rows q m, dc = Σ_rows q. <paramref name="gradA"/> [H] and
    /// <paramref name="gradC"/> are written (not accumulated).
    /// </summary>
    public static unsafe void Backward<T>(T* y, T* a, T c, T* grad, T* gradY, T* gradA, out T gradC, long rows, int hidden, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = LaneBlocks.Chunks(rows, threads, MinRowsPerChunk);
        var partialA = new T[chunks][];
        var partialC = new T[chunks];
        var (ny, na, ng, ngy) = ((nint)y, (nint)a, (nint)grad, (nint)gradY);
        LaneBlocks.ForEachChunk(rows, chunks, (chunk, r0, r1) =>
        {
            T* yy = (T*)ny, aa = (T*)na, gg = (T*)ng, gy = (T*)ngy;
            var sumA = new T[hidden];
            T sumC = T.Zero;
            fixed (T* da = sumA)
                for (long r = r0; r < r1; r++)
                {
                    T* yr = yy + r * hidden, gr = gg + r * hidden, dyr = gy + r * hidden;
                    // Pass 1: m·a and g·m; σ(y) is parked in the dy row for pass 2.
                    var accA = Vector<T>.Zero;
                    var accG = Vector<T>.Zero;
                    int k = 0;
                    for (; k <= hidden - Vector<T>.Count; k += Vector<T>.Count)
                    {
                        var v = Vector.Load(yr + k);
                        var sig = VectorMath.Sigmoid(v);
                        sig.Store(dyr + k);
                        var m = v * sig;
                        accA += m * Vector.Load(aa + k);
                        accG += m * Vector.Load(gr + k);
                    }
                    T dot = Vector.Sum(accA), gm = Vector.Sum(accG);
                    for (; k < hidden; k++)
                    {
                        T sig = VectorMath.Sigmoid(yr[k]);
                        dyr[k] = sig;
                        T m = yr[k] * sig;
                        dot += m * aa[k];
                        gm += m * gr[k];
                    }
                    T s = VectorMath.Sigmoid(dot + c);
                    T q = gm * s * (T.One - s);
                    sumC += q;
                    // Pass 2: dy and da.
                    var vs = new Vector<T>(s);
                    var vq = new Vector<T>(q);
                    k = 0;
                    for (; k <= hidden - Vector<T>.Count; k += Vector<T>.Count)
                    {
                        var v = Vector.Load(yr + k);
                        var sig = Vector.Load(dyr + k);
                        var m = v * sig;
                        var dm = Vector.Load(gr + k) * vs + vq * Vector.Load(aa + k);
                        (dm * VectorMath.SiluDerivative(v, sig)).Store(dyr + k);
                        (Vector.Load(da + k) + vq * m).Store(da + k);
                    }
                    for (; k < hidden; k++)
                    {
                        T sig = dyr[k];
                        T m = yr[k] * sig;
                        T dm = gr[k] * s + q * aa[k];
                        dyr[k] = dm * VectorMath.SiluDerivative(yr[k], sig);
                        da[k] += q * m;
                    }
                }
            partialA[chunk] = sumA;
            partialC[chunk] = sumC;
        });
        gradC = T.Zero;
        for (int k = 0; k < hidden; k++) gradA[k] = T.Zero;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            for (int k = 0; k < hidden; k++) gradA[k] += partialA[chunk][k];
            gradC += partialC[chunk];
        }
    }
}
