using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace EquiSharp.Steerable;

/// <summary>
/// Moves blocks of <c>Vector&lt;T&gt;.Count</c> rows of a row-major [n, dim] CPU tensor into SIMD lanes
/// (element e of row r → lane r of vector e) and back, for kernels that process one row per lane.
/// float32 with AVX uses 8×8 shuffle transposes; other types and partial blocks go element by element.
/// </summary>
internal static class LaneBlocks
{
    /// <summary>The kernels address tensors through a span of bytes, whose length is an int.</summary>
    public static bool Addressable(TorchSharp.torch.Tensor t) => t.numel() * t.element_size() < int.MaxValue;

    /// <summary>Blocks of <c>Vector&lt;T&gt;.Count</c> rows that cover <paramref name="rows"/> rows (the last one may be partial).</summary>
    public static long BlockCount<T>(long rows) => (rows + Vector<T>.Count - 1) / Vector<T>.Count;

    /// <summary>How many contiguous chunks of blocks to run in parallel: at most <paramref name="threads"/>, at least <paramref name="minBlocksPerChunk"/> blocks each, at least one.</summary>
    public static int Chunks(long blocks, int threads, int minBlocksPerChunk) =>
        (int)Math.Clamp(blocks / minBlocksPerChunk, 1, Math.Max(1, threads));

    /// <summary>
    /// Runs <paramref name="body"/>(chunk, first block, end block) over <paramref name="chunks"/> contiguous
    /// ranges of the blocks, in parallel when there is more than one; fixed boundaries, so results repeat
    /// for a given chunk count.
    /// </summary>
    public static void ForEachChunk(long blocks, int chunks, Action<int, long, long> body)
    {
        if (chunks == 1) { body(0, 0, blocks); return; }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks },
            c => body(c, blocks * c / chunks, blocks * (c + 1) / chunks));
    }

    /// <summary>Rows [row0, row0 + rows) of a [n, dim] tensor into lanes: dst[e][r] = src[row0 + r, e] (missing lanes zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Load<T>(T* src, long row0, int rows, int dim, Vector<T>[] dst) where T : unmanaged
    {
        int lanes = Vector<T>.Count, e = 0;
        if (rows < lanes) Array.Clear(dst);
        fixed (Vector<T>* d = dst)
        {
            T* dl = (T*)d;
            if (rows == 8 && lanes == 8 && typeof(T) == typeof(float) && Avx.IsSupported)
                for (float* s = (float*)(src + row0 * dim); e + 8 <= dim; e += 8)
                {
                    // The next block's rows, one cache line ahead: eight strided streams defeat the hardware prefetcher.
                    if ((e & 15) == 0)
                        for (int r = 0; r < 8; r++) Sse.Prefetch0(s + (8 + r) * dim + e);
                    Transpose8x8(s + e, dim, (float*)dl + e * 8, 8);
                }
            for (int r = 0; r < rows; r++)
            {
                T* s = src + (row0 + r) * dim;
                for (int c = e; c < dim; c++) dl[c * lanes + r] = s[c];
            }
        }
    }

    /// <summary>The inverse of <see cref="Load{T}"/> for the first <paramref name="rows"/> lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Store<T>(Vector<T>[] src, int dim, T* dst, long row0, int rows) where T : unmanaged
    {
        int lanes = Vector<T>.Count, e = 0;
        fixed (Vector<T>* sv = src)
        {
            T* sl = (T*)sv;
            if (rows == 8 && lanes == 8 && typeof(T) == typeof(float) && Avx.IsSupported)
                for (float* d = (float*)(dst + row0 * dim); e + 8 <= dim; e += 8) Transpose8x8((float*)sl + e * 8, 8, d + e, dim);
            for (int r = 0; r < rows; r++)
            {
                T* d = dst + (row0 + r) * dim;
                for (int c = e; c < dim; c++) d[c] = sl[c * lanes + r];
            }
        }
    }

    /// <summary>dst[j * dstStride + i] = src[i * srcStride + j] for an 8×8 float tile (AVX shuffles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose8x8(float* src, int srcStride, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride); var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride); var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride); var r7 = Avx.LoadVector256(src + 7 * srcStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }
}
