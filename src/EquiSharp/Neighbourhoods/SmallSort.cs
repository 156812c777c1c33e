using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EquiSharp.Neighbourhoods;

/// <summary>
/// Ascending sort of the short integer lists produced per target (tens of entries): a bitonic
/// sorting network in AVX-512 registers for up to 64 entries, insertion sort without AVX-512 or
/// for tiny lists, introsort beyond 64.
/// </summary>
internal static class SmallSort
{
    public static unsafe void Sort(int* a, int length)
    {
        if (length <= 8 || (length <= 64 && !Avx512F.IsSupported))
        {
            Insertion(a, length);
            return;
        }
        if (length > 64)
        {
            new Span<int>(a, length).Sort();
            return;
        }
        Bitonic(a, length);
    }

    private static unsafe void Insertion(int* a, int length)
    {
        for (int t = 1; t < length; t++)
        {
            int v = a[t], u = t - 1;
            while (u >= 0 && a[u] > v) { a[u + 1] = a[u]; u--; }
            a[u + 1] = v;
        }
    }

    private static unsafe void Bitonic(int* a, int length)
    {
        int vectors = length <= 16 ? 1 : length <= 32 ? 2 : 4;
        int size = 16 * vectors;
        int* buffer = stackalloc int[64];
        new Span<int>(a, length).CopyTo(new Span<int>(buffer, length));
        new Span<int>(buffer + length, size - length).Fill(int.MaxValue);   // padding sorts last
        Vector512<int>* v = stackalloc Vector512<int>[4];
        for (int q = 0; q < vectors; q++) v[q] = Vector512.Load(buffer + 16 * q);
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

        for (int k = 2; k <= size; k <<= 1)
        {
            for (int j = k >> 1; j > 0; j >>= 1)
            {
                if (j >= 16)
                {
                    // Compare-exchange whole vectors q and q ^ (j / 16); the direction is uniform
                    // over a vector because k > j ≥ 16.
                    int jv = j >> 4;
                    for (int q = 0; q < vectors; q++)
                    {
                        int b = q ^ jv;
                        if (b < q) continue;
                        var lo = Vector512.Min(v[q], v[b]);
                        var hi = Vector512.Max(v[q], v[b]);
                        bool ascending = ((16 * q) & k) == 0;
                        v[q] = ascending ? lo : hi;
                        v[b] = ascending ? hi : lo;
                    }
                }
                else
                {
                    var partner = lane ^ Vector512.Create(j);
                    var lower = Vector512.Equals(lane & Vector512.Create(j), Vector512<int>.Zero);
                    for (int q = 0; q < vectors; q++)
                    {
                        var other = Avx512F.PermuteVar16x32(v[q], partner);
                        var lo = Vector512.Min(v[q], other);
                        var hi = Vector512.Max(v[q], other);
                        var ascending = Vector512.Equals((lane + Vector512.Create(16 * q)) & Vector512.Create(k), Vector512<int>.Zero);
                        // Keep the minimum where "ascending" and "lower of the pair" agree.
                        var keepMin = ~(ascending ^ lower);
                        v[q] = Vector512.ConditionalSelect(keepMin, lo, hi);
                    }
                }
            }
        }
        for (int q = 0; q < vectors; q++) v[q].Store(buffer + 16 * q);
        new Span<int>(buffer, length).CopyTo(new Span<int>(a, length));
    }
}
