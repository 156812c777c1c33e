using System.Numerics;
using EquiSharp.Steerable;

namespace EquiSharp.MessagePassing;

/// <summary>
/// The first edge layer of EGNN in one pass over the edges: out[e] = SiLU(P[a_e] + P[b_e] + R[e]),
/// where P holds the per-node halves of the layer (h W_i and h W_j, [2N, H]) and R the per-edge rest
/// (distance and attribute columns, with the bias; [E, H]). The composite needs a gather of 2E rows,
/// a sum, an add and the activation, each a full pass over [E, H] memory, and as many again backward.
/// </summary>
internal static class PairSiluKernel
{
    /// <summary>Edges per parallel chunk at least (smaller graphs run on one thread).</summary>
    private const int MinEdgesPerChunk = 1024;

    /// <summary>out[e] = SiLU(P[pairs[2e]] + P[pairs[2e+1]] + R[e]) for e in [0, edges).</summary>
    public static unsafe void Forward<T>(T* p, T* r, long* pairs, T* output, long edges, int hidden, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (np, nr, no, ni) = ((nint)p, (nint)r, (nint)output, (nint)pairs);
        LaneBlocks.ForEachChunk(edges, LaneBlocks.Chunks(edges, threads, MinEdgesPerChunk), (_, e0, e1) =>
        {
            T* pp = (T*)np, rr = (T*)nr, oo = (T*)no;
            long* ii = (long*)ni;
            for (long e = e0; e < e1; e++)
            {
                T* a = pp + ii[2 * e] * hidden, b = pp + ii[2 * e + 1] * hidden, re = rr + e * hidden, o = oo + e * hidden;
                int k = 0;
                for (; k <= hidden - Vector<T>.Count; k += Vector<T>.Count)
                {
                    var z = Vector.Load(a + k) + Vector.Load(b + k) + Vector.Load(re + k);
                    (z * VectorMath.Sigmoid(z)).Store(o + k);
                }
                for (; k < hidden; k++)
                {
                    T z = a[k] + b[k] + re[k];
                    o[k] = z * VectorMath.Sigmoid(z);
                }
            }
        });
    }

    /// <summary>
    /// Backward: dz = g ⊙ SiLU'(z) with z recomputed; gradR = dz; gradP[pairs[2e]] += dz[e] and
    /// gradP[pairs[2e+1]] += dz[e]. <paramref name="gradP"/> must be zeroed by the caller.
    /// </summary>
    public static unsafe void Backward<T>(T* p, T* r, long* pairs, T* grad, T* gradR, T* gradP, long nodesTimesTwo, long edges, int hidden, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = LaneBlocks.Chunks(edges, threads, MinEdgesPerChunk);
        // Chunk 0 accumulates into gradP, the others into their own buffers, summed afterwards (deterministic for a given thread count).
        // Pooled, not allocated: a fresh [2N, H] array per layer and step lands on the large-object heap,
        // whose collections and decommitted pages cost more than clearing a reused one.
        int total = checked((int)(nodesTimesTwo * hidden));
        var partial = new T[chunks - 1][];
        for (int c = 1; c < chunks; c++)
        {
            partial[c - 1] = System.Buffers.ArrayPool<T>.Shared.Rent(total);
            Array.Clear(partial[c - 1], 0, total);
        }
        var (np, nr, ng, ngr, ngp, ni) = ((nint)p, (nint)r, (nint)grad, (nint)gradR, (nint)gradP, (nint)pairs);
        LaneBlocks.ForEachChunk(edges, chunks, (c, e0, e1) =>
        {
            T* pp = (T*)np, rr = (T*)nr, gg = (T*)ng, gr = (T*)ngr, gp = (T*)ngp;
            long* ii = (long*)ni;
            fixed (T* own = c == 0 ? null : partial[c - 1])
            {
                T* acc = c == 0 ? gp : own;
                for (long e = e0; e < e1; e++)
                {
                    long ia = ii[2 * e] * hidden, ib = ii[2 * e + 1] * hidden;
                    T* a = pp + ia, b = pp + ib, re = rr + e * hidden, ge = gg + e * hidden, dz = gr + e * hidden;
                    T* accA = acc + ia, accB = acc + ib;
                    int k = 0;
                    for (; k <= hidden - Vector<T>.Count; k += Vector<T>.Count)
                    {
                        var z = Vector.Load(a + k) + Vector.Load(b + k) + Vector.Load(re + k);
                        var s = VectorMath.Sigmoid(z);
                        var d = Vector.Load(ge + k) * VectorMath.SiluDerivative(z, s);
                        d.Store(dz + k);
                        (Vector.Load(accA + k) + d).Store(accA + k);
                        (Vector.Load(accB + k) + d).Store(accB + k);
                    }
                    for (; k < hidden; k++)
                    {
                        T z = a[k] + b[k] + re[k];
                        T d = ge[k] * VectorMath.SiluDerivative(z, VectorMath.Sigmoid(z));
                        dz[k] = d;
                        accA[k] += d;
                        accB[k] += d;
                    }
                }
            }
        });
        for (int c = 0; c < partial.Length; c++)
        {
            fixed (T* src = partial[c])
            {
                int k = 0;
                for (; k <= total - Vector<T>.Count; k += Vector<T>.Count)
                    (Vector.Load(gradP + k) + Vector.Load(src + k)).Store(gradP + k);
                for (; k < total; k++) gradP[k] += src[k];
            }
            System.Buffers.ArrayPool<T>.Shared.Return(partial[c]);
        }
    }
}
