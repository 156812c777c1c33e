using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Neighbourhoods;

/// <summary>O(N²) float64 references with the documented semantics, and small helpers.</summary>
internal static class BruteForce
{
    /// <summary>Squared distance accumulated in dimension order, as the library defines it.</summary>
    public static double Dist2(double[] x, int d, int i, int j)
    {
        double s = 0;
        for (int k = 0; k < d; k++)
        {
            double t = x[j * d + k] - x[i * d + k];
            s += t * t;
        }
        return s;
    }

    /// <summary>Edges (j, i) sorted by target then source; ptr gives the graphs.</summary>
    public static List<(long J, long I)> Radius(double[] x, int d, long[] ptr, double r, bool self = false, int cap = -1)
    {
        var edges = new List<(long, long)>();
        double r2 = r * r;
        for (int g = 0; g + 1 < ptr.Length; g++)
            for (long i = ptr[g]; i < ptr[g + 1]; i++)
            {
                var cands = new List<(double D2, long J)>();
                for (long j = ptr[g]; j < ptr[g + 1]; j++)
                {
                    if (j == i) continue;
                    double d2 = Dist2(x, d, (int)i, (int)j);
                    if (d2 <= r2) cands.Add((d2, j));
                }
                if (cap >= 0 && cands.Count > cap)
                    cands = cands.OrderBy(c => c.D2).ThenBy(c => c.J).Take(cap).ToList();
                var js = cands.Select(c => c.J).ToList();
                if (self) js.Add(i);
                js.Sort();
                foreach (var j in js) edges.Add((j, i));
            }
        return edges;
    }

    public static List<(long J, long I)> Knn(double[] x, int d, long[] ptr, int k, bool self = false)
    {
        var edges = new List<(long, long)>();
        for (int g = 0; g + 1 < ptr.Length; g++)
            for (long i = ptr[g]; i < ptr[g + 1]; i++)
            {
                var js = new List<long>();
                for (long j = ptr[g]; j < ptr[g + 1]; j++)
                    if (j != i) js.Add(j);
                js = js.OrderBy(j => Dist2(x, d, (int)i, (int)j)).ThenBy(j => j).Take(k).ToList();
                if (self) js.Add(i);
                js.Sort();
                foreach (var j in js) edges.Add((j, i));
            }
        return edges;
    }

    public static List<(long J, long I)> Edges(Tensor edgeIndex)
    {
        Assert.Equal(2, edgeIndex.shape[0]);
        Assert.Equal(ScalarType.Int64, edgeIndex.dtype);
        long e = edgeIndex.shape[1];
        if (e == 0) return [];
        var a = edgeIndex.cpu().contiguous().data<long>().ToArray();
        var list = new List<(long, long)>((int)e);
        for (long t = 0; t < e; t++) list.Add((a[t], a[e + t]));
        return list;
    }

    public static void AssertSameEdges(List<(long J, long I)> expected, Tensor edgeIndex)
    {
        var actual = Edges(edgeIndex);
        Assert.Equal(expected.Count, actual.Count);
        for (int t = 0; t < expected.Count; t++)
            if (expected[t] != actual[t])
                Assert.Fail($"edge {t}: expected {expected[t]}, got {actual[t]} (of {expected.Count})");
    }

    public static double[] Uniform(Random rng, int n, int d, double scale = 1.0)
    {
        var x = new double[n * d];
        for (int t = 0; t < x.Length; t++) x[t] = rng.NextDouble() * scale;
        return x;
    }

    public static Tensor Tensor(double[] x, int d, ScalarType dtype = ScalarType.Float64) =>
        torch.tensor(x, [x.Length / d, d], ScalarType.Float64).to_type(dtype);

    /// <summary>Coordinates as the library sees them (float32 input rounded once).</summary>
    public static double[] AsFloat32(double[] x) => x.Select(v => (double)(float)v).ToArray();

    public static long[] PtrFromCounts(params int[] counts)
    {
        var ptr = new long[counts.Length + 1];
        for (int g = 0; g < counts.Length; g++) ptr[g + 1] = ptr[g] + counts[g];
        return ptr;
    }

    public static Tensor BatchFromCounts(params int[] counts) =>
        torch.arange(counts.Length, ScalarType.Int64).repeat_interleave(torch.tensor(counts.Select(c => (long)c).ToArray()));
}
