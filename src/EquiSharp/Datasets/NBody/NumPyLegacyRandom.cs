namespace EquiSharp.Datasets.NBody;

/// <summary>
/// The random stream of NumPy's legacy global generator (<c>np.random.seed(s)</c> followed by
/// <c>np.random.random_sample</c>, <c>np.random.randn</c> and <c>np.random.choice(..., p=...)</c>):
/// Mersenne Twister MT19937 seeded with the 32-bit integer seeding routine, doubles from two 32-bit
/// draws (27 + 26 bits), normals by the polar Box–Muller method with the second value kept for the
/// next call. Used to regenerate the EGNN reference data set from its seed without Python.
/// </summary>
/// <remarks>Not thread-safe; one instance is one sequential stream, exactly as NumPy's global state.</remarks>
public sealed class NumPyLegacyRandom
{
    private const int N = 624, M = 397;
    private readonly uint[] key = new uint[N];
    private int pos;
    private double gauss;
    private bool hasGauss;

    /// <summary>The state of <c>np.random.seed(seed)</c> (seed in [0, 2^32)).</summary>
    public NumPyLegacyRandom(uint seed)
    {
        key[0] = seed;
        for (int i = 1; i < N; i++)
            key[i] = 1812433253u * (key[i - 1] ^ (key[i - 1] >> 30)) + (uint)i;
        pos = N;
    }

    /// <summary>The next 32-bit output of MT19937 (tempered).</summary>
    public uint NextUInt32()
    {
        if (pos == N) Regenerate();
        uint y = key[pos++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        return y ^ (y >> 18);
    }

    /// <summary><c>np.random.random_sample()</c>: uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble()
    {
        uint a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

    /// <summary><c>np.random.randn()</c> / <c>standard_normal</c> of the legacy generator (polar method; values come in pairs).</summary>
    public double NextGaussian()
    {
        if (hasGauss)
        {
            hasGauss = false;
            return gauss;
        }
        double x1, x2, r2;
        do
        {
            x1 = 2.0 * NextDouble() - 1.0;
            x2 = 2.0 * NextDouble() - 1.0;
            r2 = x1 * x1 + x2 * x2;
        } while (r2 >= 1.0 || r2 == 0.0);
        double f = Math.Sqrt(-2.0 * Math.Log(r2) / r2);
        gauss = f * x1;
        hasGauss = true;
        return f * x2;
    }

    /// <summary>Fills <paramref name="values"/> with <c>np.random.randn(values.Length)</c> (row-major order for any shape).</summary>
    public void FillGaussian(Span<double> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = NextGaussian();
    }

    /// <summary>Draws and discards <paramref name="count"/> normals (keeps the stream in step with code that adds zero-variance noise).</summary>
    public void SkipGaussians(long count)
    {
        for (long i = 0; i < count; i++) NextGaussian();
    }

    /// <summary>
    /// <c>np.random.choice(len(p), p=p)</c> for one draw: the index whose cumulative probability
    /// (normalised by its last entry, as NumPy does) first exceeds a uniform draw.
    /// </summary>
    public int Choice(ReadOnlySpan<double> probabilities)
    {
        if (probabilities.Length == 0) throw new ArgumentException("Choice: no probabilities.", nameof(probabilities));
        Span<double> cdf = probabilities.Length <= 64 ? stackalloc double[probabilities.Length] : new double[probabilities.Length];
        double sum = 0;
        for (int i = 0; i < cdf.Length; i++)
        {
            if (!(probabilities[i] >= 0)) throw new ArgumentOutOfRangeException(nameof(probabilities), probabilities[i], $"Choice: probability {i} must be non-negative.");
            sum += probabilities[i];
            cdf[i] = sum;
        }
        if (!(sum > 0)) throw new ArgumentException("Choice: the probabilities sum to zero.", nameof(probabilities));
        for (int i = 0; i < cdf.Length; i++) cdf[i] /= sum;
        double u = NextDouble();
        // searchsorted(cdf, u, side='right'): the first index with cdf[i] > u.
        int k = 0;
        while (k < cdf.Length - 1 && cdf[k] <= u) k++;
        return k;
    }

    private void Regenerate()
    {
        const uint upper = 0x80000000u, lower = 0x7fffffffu, matrixA = 0x9908b0dfu;
        int i = 0;
        uint y;
        for (; i < N - M; i++)
        {
            y = (key[i] & upper) | (key[i + 1] & lower);
            key[i] = key[i + M] ^ (y >> 1) ^ ((y & 1) != 0 ? matrixA : 0u);
        }
        for (; i < N - 1; i++)
        {
            y = (key[i] & upper) | (key[i + 1] & lower);
            key[i] = key[i + (M - N)] ^ (y >> 1) ^ ((y & 1) != 0 ? matrixA : 0u);
        }
        y = (key[N - 1] & upper) | (key[0] & lower);
        key[N - 1] = key[M - 1] ^ (y >> 1) ^ ((y & 1) != 0 ? matrixA : 0u);
        pos = 0;
    }
}
