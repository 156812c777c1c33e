namespace EquiSharp.Training;

/// <summary>
/// Deterministic seeds and permutations derived from a run seed and an epoch, independent of the .NET
/// runtime's <see cref="Random"/> implementation (SplitMix64).
/// </summary>
public static class Seeding
{
    /// <summary>The seed of one-based <paramref name="epoch"/> of a run with seed <paramref name="runSeed"/> (non-negative, fits torch.manual_seed).</summary>
    public static long EpochSeed(long runSeed, int epoch)
    {
        ulong state = unchecked((ulong)runSeed * 0x9E3779B97F4A7C15UL + (ulong)epoch);
        return (long)(SplitMix64(ref state) >> 1);
    }

    /// <summary>A uniformly random permutation of 0..<paramref name="count"/>-1 (Fisher–Yates driven by SplitMix64).</summary>
    public static int[] Permutation(int count, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        ulong state = unchecked((ulong)seed);
        for (int i = count - 1; i > 0; i--)
        {
            // Unbiased bounded draw (Lemire's multiply-shift with rejection).
            ulong bound = (ulong)(i + 1);
            ulong threshold = unchecked(0UL - bound) % bound;
            ulong r;
            UInt128 product;
            do
            {
                r = SplitMix64(ref state);
                product = (UInt128)r * bound;
            } while ((ulong)product < threshold);
            int j = (int)(product >> 64);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = unchecked(state += 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
