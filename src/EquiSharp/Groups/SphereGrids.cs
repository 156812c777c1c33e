using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Groups;

/// <summary>How the points of a <see cref="SphereGrids"/> grid are placed.</summary>
public enum SphereGridKind
{
    /// <summary>Fibonacci (golden-angle) spiral: z_k = 1 − (2k + 1)/n, φ_k = k · π(3 − √5).</summary>
    Fibonacci,

    /// <summary>The Fibonacci grid relaxed by a fixed number of projected gradient steps on the Riesz (1/r) energy.</summary>
    Repulsion,
}

/// <summary>
/// Deterministic, well-spread grids on the unit sphere S² (and the circle S¹), as row-major float64
/// tensors [n, d]. Grids are computed in plain double arithmetic with a fixed iteration count, so the
/// same call gives bit-identical points on every machine, and are cached: call this at construction,
/// never inside a forward pass. The returned tensors are fresh copies the caller owns.
/// </summary>
public static class SphereGrids
{
    private static readonly ConcurrentDictionary<(SphereGridKind, int), double[]> Cache = new();

    /// <summary>Golden ratio φ = (1 + √5)/2.</summary>
    public static readonly double GoldenRatio = (1 + Math.Sqrt(5)) / 2;

    /// <summary>A grid of <paramref name="n"/> points on S² [n, 3] (float64).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> &lt; 1.</exception>
    public static Tensor Sphere(int n, SphereGridKind kind = SphereGridKind.Repulsion)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "A sphere grid needs at least one point.");
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown sphere grid kind.");
        var points = Cache.GetOrAdd((kind, n), key => key.Item1 == SphereGridKind.Fibonacci ? FibonacciPoints(key.Item2) : RepulsionPoints(key.Item2));
        return torch.tensor(points, new long[] { n, 3 }, ScalarType.Float64);
    }

    /// <summary>The 6 vertices of the octahedron (±e_x, ±e_y, ±e_z) [6, 3]; mapped onto itself by the octahedral group (24 rotations).</summary>
    public static Tensor Octahedron() => torch.tensor(new double[]
    {
        1, 0, 0, -1, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0, 1, 0, 0, -1,
    }, new long[] { 6, 3 }, ScalarType.Float64);

    /// <summary>
    /// The 12 vertices of the icosahedron, (0, ±1, ±φ) and its cyclic permutations normalised [12, 3];
    /// mapped onto itself by the icosahedral group (60 rotations, <see cref="RotationGroups.Icosahedral"/>).
    /// </summary>
    public static Tensor Icosahedron()
    {
        double s = 1 / Math.Sqrt(1 + GoldenRatio * GoldenRatio), a = s, b = GoldenRatio * s;
        var p = new List<double>();
        foreach (double u in new[] { a, -a })
            foreach (double w in new[] { b, -b })
            {
                p.AddRange(new[] { 0, u, w });
                p.AddRange(new[] { u, w, 0 });
                p.AddRange(new[] { w, 0, u });
            }
        return torch.tensor(p.ToArray(), new long[] { 12, 3 }, ScalarType.Float64);
    }

    /// <summary>n equally spaced points on the circle S¹, (cos 2πk/n, sin 2πk/n) [n, 2] (float64); mapped onto itself by the rotations by multiples of 2π/n.</summary>
    public static Tensor Circle(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "A circle grid needs at least one point.");
        var p = new double[2 * n];
        for (int k = 0; k < n; k++)
        {
            double t = 2 * Math.PI * k / n;
            p[2 * k] = Math.Cos(t);
            p[2 * k + 1] = Math.Sin(t);
        }
        return torch.tensor(p, new long[] { n, 2 }, ScalarType.Float64);
    }

    /// <summary>
    /// Covering radius of a sphere grid [n, 3]: the largest angle (radians) from a point of the sphere to its
    /// nearest grid point, estimated on a dense Fibonacci probe set of <paramref name="probes"/> points
    /// (a lower bound that converges from below; 20000 probes resolve it to about 0.02 rad).
    /// </summary>
    public static double CoveringRadius(Tensor grid, int probes = 20000)
    {
        CheckGrid(grid, 3, nameof(grid));
        using var scope = torch.NewDisposeScope();
        var probe = torch.tensor(FibonacciPoints(probes), new long[] { probes, 3 }, ScalarType.Float64);
        var cos = probe.matmul(grid.to_type(ScalarType.Float64).t()).amax(1).clamp(-1, 1);
        return cos.min().acos().item<double>();
    }

    /// <summary>Smallest angle (radians) between two distinct points of a grid [n, d] (the separation).</summary>
    public static double MinimumSeparation(Tensor grid)
    {
        if (grid.dim() != 2 || grid.shape[0] < 2)
            throw new ArgumentException($"The grid must be [n ≥ 2, d], got [{string.Join(", ", grid.shape)}].", nameof(grid));
        using var scope = torch.NewDisposeScope();
        var g = grid.to_type(ScalarType.Float64);
        var cos = g.matmul(g.t()) - 3 * torch.eye(g.shape[0], dtype: ScalarType.Float64);
        return cos.amax().clamp(-1, 1).acos().item<double>();
    }

    internal static void CheckGrid(Tensor grid, int dim, string name)
    {
        ArgumentNullException.ThrowIfNull(grid, name);
        if (grid.dim() != 2 || grid.shape[1] != dim || grid.shape[0] < 1 || !grid.is_floating_point())
            throw new ArgumentException($"{name} must be a floating point grid of unit vectors [n, {dim}], got [{string.Join(", ", grid.shape)}] ({grid.dtype}).", name);
    }

    private static double[] FibonacciPoints(int n)
    {
        var p = new double[3 * n];
        double golden = Math.PI * (3 - Math.Sqrt(5));
        for (int k = 0; k < n; k++)
        {
            double z = 1 - (2.0 * k + 1) / n, r = Math.Sqrt(Math.Max(0, 1 - z * z)), phi = k * golden;
            p[3 * k] = r * Math.Cos(phi);
            p[3 * k + 1] = r * Math.Sin(phi);
            p[3 * k + 2] = z;
        }
        return p;
    }

    /// <summary>Projected gradient descent on the Riesz energy Σ 1/|p_i − p_j| from the Fibonacci grid: 4000 steps of size 0.5 n^(−3/2) (below the stability limit of the energy's stiffness, which grows like n^(3/2)).</summary>
    private static double[] RepulsionPoints(int n)
    {
        var p = FibonacciPoints(n);
        if (n < 3) return p;
        var force = new double[3 * n];
        const int steps = 4000;
        double step = 0.5 / (n * Math.Sqrt(n));
        for (int it = 0; it < steps; it++)
        {
            Array.Clear(force);
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                {
                    double dx = p[3 * i] - p[3 * j], dy = p[3 * i + 1] - p[3 * j + 1], dz = p[3 * i + 2] - p[3 * j + 2];
                    double r2 = Math.Max(dx * dx + dy * dy + dz * dz, 1e-12), inv3 = 1 / (r2 * Math.Sqrt(r2));
                    force[3 * i] += dx * inv3; force[3 * i + 1] += dy * inv3; force[3 * i + 2] += dz * inv3;
                    force[3 * j] -= dx * inv3; force[3 * j + 1] -= dy * inv3; force[3 * j + 2] -= dz * inv3;
                }
            for (int i = 0; i < n; i++)
            {
                double fx = force[3 * i], fy = force[3 * i + 1], fz = force[3 * i + 2];
                double radial = fx * p[3 * i] + fy * p[3 * i + 1] + fz * p[3 * i + 2];
                double x = p[3 * i] + step * (fx - radial * p[3 * i]);
                double y = p[3 * i + 1] + step * (fy - radial * p[3 * i + 1]);
                double z = p[3 * i + 2] + step * (fz - radial * p[3 * i + 2]);
                double norm = Math.Sqrt(x * x + y * y + z * z);
                p[3 * i] = x / norm; p[3 * i + 1] = y / norm; p[3 * i + 2] = z / norm;
            }
        }
        return p;
    }
}
