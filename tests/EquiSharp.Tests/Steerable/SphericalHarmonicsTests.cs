using EquiSharp.Steerable;
using EquiSharp.Symmetry;
using EquiSharp.Tests.TestUtilities;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class SphericalHarmonicsTests
{
    private static Tensor RandomVectors(long n, ulong seed) => torch.randn(new[] { n, 3L }, dtype: ScalarType.Float64, generator: new Generator(seed));

    [Fact]
    public void KnownValues_MatchE3nnPolynomials()
    {
        using var scope = torch.NewDisposeScope();
        var v = torch.tensor(new[] { 0.3, -0.5, 0.8 }, dtype: ScalarType.Float64);
        var u = v / v.norm();
        double x = u[0].item<double>(), y = u[1].item<double>(), z = u[2].item<double>();
        var y3 = SphericalHarmonics.Compute(3, u, normalization: SphericalHarmonicsNormalization.Norm);
        // e3nn's norm-normalised polynomials (sh_1 = (x, y, z), sh_2, sh_3 from e3nn's generated code).
        double s3 = Math.Sqrt(3);
        double[] expected =
        {
            1, x, y, z,
            s3 * x * z, s3 * x * y, y * y - 0.5 * (x * x + z * z), s3 * y * z, s3 / 2 * (z * z - x * x),
            Math.Sqrt(10) / 4 * (3 * x * z * z - x * x * x), Math.Sqrt(15) * x * y * z,
            Math.Sqrt(3.0 / 8.0) * (4 * y * y - x * x - z * z) * x, 0.5 * y * (2 * y * y - 3 * (x * x + z * z)),
            Math.Sqrt(3.0 / 8.0) * z * (4 * y * y - x * x - z * z), Math.Sqrt(15) / 2 * (z * z - x * x) * y,
            Math.Sqrt(10) / 4 * (z * z * z - 3 * x * x * z),
        };
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], y3[i].item<double>(), 12);
    }

    [Theory]
    [InlineData(SphericalHarmonicsNormalization.Component)]
    [InlineData(SphericalHarmonicsNormalization.Norm)]
    [InlineData(SphericalHarmonicsNormalization.Integral)]
    public void Normalisations_HaveTheDocumentedNorms(SphericalHarmonicsNormalization normalization)
    {
        using var scope = torch.NewDisposeScope();
        var x = RandomVectors(50, 3);
        var y = SphericalHarmonics.Compute(6, x, normalization: normalization);
        int offset = 0;
        for (int l = 0; l <= 6; offset += 2 * l + 1, l++)
        {
            var n2 = y[.., TensorIndex.Slice(offset, offset + 2 * l + 1)].pow(2).sum(-1);
            double expected = normalization switch
            {
                SphericalHarmonicsNormalization.Component => 2 * l + 1,
                SphericalHarmonicsNormalization.Norm => 1,
                _ => (2 * l + 1) / (4 * Math.PI),
            };
            Assert.True(torch.allclose(n2, torch.full_like(n2, expected), 1e-10, 1e-12), $"l={l}");
        }
    }

    [Fact]
    public void Equivariant_UnderRotationsAndReflections_UpToDegree8()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(5);
        var x = RandomVectors(20, 4);
        var rs = Rotations.RandomO3(12, gen);
        Assert.Contains(true, (torch.linalg.det(rs) < 0).data<bool>().ToArray());
        for (int l = 0; l <= 8; l++)
        {
            var y = SphericalHarmonics.Compute(new[] { l }, x);
            var d = WignerD.Matrix(l, rs); // [12, d, d]
            var yRot = SphericalHarmonics.Compute(new[] { l }, x.matmul(rs.transpose(1, 2))); // [12, 20, d]
            var expected = y.matmul(d.transpose(1, 2));
            Assert.True(torch.allclose(yRot, expected, 1e-9, 1e-9), $"l={l}: {(yRot - expected).abs().max().item<double>()}");
        }
    }

    [Fact]
    public void Parity_YOfMinusX_IsSignTimesY()
    {
        using var scope = torch.NewDisposeScope();
        var x = RandomVectors(30, 6);
        for (int l = 0; l <= 9; l++)
        {
            var y = SphericalHarmonics.Compute(new[] { l }, x, normalize: false);
            var ym = SphericalHarmonics.Compute(new[] { l }, -x, normalize: false);
            Assert.True(torch.allclose(ym, y * (l % 2 == 0 ? 1.0 : -1.0), 1e-12, 1e-12), $"l={l}");
        }
    }

    [Fact]
    public void Integral_IsOrthonormal_ByQuadrature()
    {
        using var scope = torch.NewDisposeScope();
        // Gauss–Legendre in cos θ (exact for polynomials up to degree 2n−1) times a uniform φ grid.
        const int lmax = 5, n = 12, nPhi = 24;
        var (nodes, weights) = GaussLegendre(n);
        var pts = new List<double>();
        var w = new List<double>();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < nPhi; j++)
            {
                double ct = nodes[i], st = Math.Sqrt(1 - ct * ct), phi = 2 * Math.PI * j / nPhi;
                pts.AddRange(new[] { st * Math.Cos(phi), st * Math.Sin(phi), ct });
                w.Add(weights[i] * 2 * Math.PI / nPhi);
            }
        var x = torch.tensor(pts.ToArray(), new long[] { w.Count, 3 }, dtype: ScalarType.Float64);
        var y = SphericalHarmonics.Compute(lmax, x, normalization: SphericalHarmonicsNormalization.Integral);
        var gram = y.t().matmul(y * torch.tensor(w.ToArray(), dtype: ScalarType.Float64).unsqueeze(1));
        var eye = torch.eye(gram.shape[0], dtype: ScalarType.Float64);
        Assert.True(torch.allclose(gram, eye, 1e-10, 1e-10), $"max deviation {(gram - eye).abs().max().item<double>()}");
    }

    [Fact]
    public void ZeroVector_IsFinite_WithFiniteGradients()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.zeros(new long[] { 2, 3 }, dtype: ScalarType.Float64).requires_grad_(true);
        var y = SphericalHarmonics.Compute(4, x);
        Assert.True(torch.isfinite(y).all().item<bool>());
        Assert.Equal(1.0, y[0, 0].item<double>());
        Assert.Equal(0.0, y[.., 1..].abs().max().item<double>());
        y.pow(2).sum().backward();
        Assert.True(torch.isfinite(x.grad!).all().item<bool>());
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = torch.NewDisposeScope();
        var x = RandomVectors(4, 8);
        Assert.True(FiniteDifferences.MaxGradientError(v => SphericalHarmonics.Compute(5, v), x) < 1e-6);
        Assert.True(FiniteDifferences.MaxGradientError(v => SphericalHarmonics.Compute(5, v, normalize: false), x) < 1e-6);
    }

    [Fact]
    public void Module_RejectsNonHarmonicIrreps_AndEvaluatesSelectedDegrees()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new SphericalHarmonics(Irreps.Parse("1e")));
        var sh = new SphericalHarmonics(Irreps.Parse("2e+1o"));
        var x = RandomVectors(3, 9);
        var all = SphericalHarmonics.Compute(2, x);
        var y = sh.forward(x);
        Assert.True(torch.allclose(y[.., ..5], all[.., 4..9]));
        Assert.True(torch.allclose(y[.., 5..], all[.., 1..4] ));
        Assert.True(torch.allclose(all[.., 1..4], x / x.norm(1, keepdim: true) * Math.Sqrt(3)));
    }

    internal static (double[] Nodes, double[] Weights) GaussLegendre(int n)
    {
        var nodes = new double[n];
        var weights = new double[n];
        for (int i = 0; i < n; i++)
        {
            double x = Math.Cos(Math.PI * (i + 0.75) / (n + 0.5));
            for (int it = 0; it < 100; it++)
            {
                double p0 = 1, p1 = x;
                for (int k = 2; k <= n; k++) { double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k; p0 = p1; p1 = p2; }
                double dp = n * (x * p1 - p0) / (x * x - 1);
                double dx = p1 / dp;
                x -= dx;
                if (Math.Abs(dx) < 1e-15) { nodes[i] = x; weights[i] = 2 / ((1 - x * x) * dp * dp); break; }
            }
        }
        return (nodes, weights);
    }
}
