using EquiSharp.Groups;
using EquiSharp.Tests.MessagePassing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Groups;

public class LieGroupTests
{
    public static TheoryData<string> Names => new() { "T(3)", "SO(2)", "SE(2)", "SO(3)", "SE(3)", "T(3)⋊R>0" };

    private static LieGroup Group(string name) => name switch
    {
        "T(3)" => new TranslationGroup(3),
        "SO(2)" => SO2.Instance,
        "SE(2)" => SE2.Instance,
        "SO(3)" => SO3.Instance,
        "T(3)⋊R>0" => new ScaleTranslationGroup(3),
        _ => SE3.Instance,
    };

    /// <summary>The Lie-algebra matrix of coordinates a [..., k] (independent of the library's closed forms).</summary>
    private static Tensor Hat(LieGroup g, Tensor a)
    {
        int r = g.RotationCoordinates, d = g.SpaceDimension;
        long n = a.shape[0];
        Tensor rot;
        if (g is ScaleTranslationGroup) rot = a.narrow(1, 0, 1).unsqueeze(2) * torch.eye(d, dtype: a.dtype); // λ I
        else if (r == 1)
        {
            var t = a.narrow(1, 0, 1);
            var o = torch.zeros_like(t);
            rot = torch.cat(new[] { o, -t, t, o }, 1).view(n, 2, 2);
        }
        else if (r == 3) rot = SO3.Hat(a.narrow(1, 0, 3));
        else rot = torch.zeros(n, d, d, dtype: a.dtype);
        if (g.AlgebraDimension == r) return rot;
        var top = torch.cat(new[] { rot, a.narrow(1, r, d).unsqueeze(2) }, 2);
        return torch.cat(new[] { top, torch.zeros(n, 1, d + 1, dtype: a.dtype) }, 1);
    }

    /// <summary>Random algebra vectors with the rotation part of angle <paramref name="angle"/> and translations of norm <paramref name="scale"/>.</summary>
    private static Tensor Random(LieGroup g, double angle, double scale, Generator gen, int count = 20)
    {
        int r = g.RotationCoordinates, k = g.AlgebraDimension;
        var a = torch.randn(new long[] { count, k }, dtype: ScalarType.Float64, generator: gen);
        var parts = new List<Tensor>();
        if (r > 0)
        {
            var w = a[.., ..r];
            parts.Add(r == 1 ? torch.sign(w) * angle : w / w.norm(1, keepdim: true) * angle);
        }
        if (k > r)
        {
            var u = a[.., r..];
            parts.Add(u / u.norm(1, keepdim: true) * scale);
        }
        return torch.cat(parts, 1);
    }

    private static double Relative(Tensor actual, Tensor expected) =>
        E3.MaxAbs(actual - expected) / Math.Max(1e-300, E3.MaxAbs(expected));

    [Theory]
    [MemberData(nameof(Names))]
    public void ExpAgreesWithTheMatrixExponentialAcrossMagnitudes(string name)
    {
        var g = Group(name);
        var gen = new Generator(1);
        foreach (double m in new[] { 1e-5, 1e-3, 0.1, 1, 3, 10, 100 })
        {
            var a = Random(g, Math.Min(m, 50), m, gen);
            var expected = torch.linalg.matrix_exp(Hat(g, a));
            double err = Relative(g.Exp(a), expected);
            Assert.True(err < 1e-12, $"{name} magnitude {m}: relative error {err}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LogInvertsExpFromTinyAnglesToNearlyPi(string name)
    {
        var g = Group(name);
        var gen = new Generator(2);
        foreach (double angle in new[] { 1e-5, 1e-3 * 0.999, 1e-3 * 1.001, 0.5, 2, 3, Math.PI - 1e-3, Math.PI - 1e-6 })
            foreach (double scale in new[] { 1e-5, 1, 100 })
            {
                var a = Random(g, angle, scale, gen);
                var back = g.Log(g.Exp(a));
                double err = Relative(back, a);
                Assert.True(err < 1e-9, $"{name} angle {angle} translation {scale}: relative error {err}");
            }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ExpOfLogIsTheIdentityMapIncludingHalfTurns(string name)
    {
        var g = Group(name);
        var gen = new Generator(3);
        foreach (double angle in new[] { 0, 1e-7, Math.PI - 1e-9, Math.PI })
        {
            var elements = g.Exp(Random(g, angle, 2, gen));
            Assert.True(E3.MaxAbs(g.Exp(g.Log(elements)) - elements) < 1e-9, $"{name} angle {angle}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void InverseComposeActLiftAndDistanceAreConsistent(string name)
    {
        var g = Group(name);
        var gen = new Generator(4);
        var a = g.Exp(Random(g, 1.3, 2, gen, 6));
        var b = g.Exp(Random(g, 2.1, 1, gen, 6));
        var eye = torch.eye(g.MatrixSize, dtype: ScalarType.Float64);
        Assert.True(E3.MaxAbs(g.Compose(a, g.Inverse(a)) - eye) < 1e-12);
        var x = torch.randn(new long[] { 6, g.SpaceDimension }, dtype: ScalarType.Float64, generator: gen);
        Assert.True(E3.MaxAbs(g.Act(g.Compose(a, b), x) - g.Act(a, g.Act(b, x))) < 1e-12);
        // Left invariance of the distance.
        var k = g.Exp(Random(g, 0.7, 3, gen, 6));
        Assert.True(E3.MaxAbs(g.Distance(g.Compose(k, a), g.Compose(k, b)) - g.Distance(a, b)) < 1e-10);
        Assert.True(E3.MaxAbs(g.Distance(a, a)) < 1e-7);
        // Lifting: every lifted element maps the orbit's reference point (origin, or |x| e_last / |x| e_x) to x.
        Tensor? stabiliser = g switch
        {
            SE3 => RotationGroups.Tetrahedral(),
            SO3 => torch.cat(new[] { torch.cat(new[] { RotationGroups.Cyclic(5), torch.zeros(5, 2, 1, dtype: ScalarType.Float64) }, 2),
                torch.tensor(new double[] { 0, 0, 1 }).expand(5, 1, 3) }, 1),
            SE2 => RotationGroups.Cyclic(4),
            ScaleTranslationGroup st => st.Scalings(torch.tensor(new[] { 0.5, 1, 3 })),
            _ => null,
        };
        var (lifted, orbits) = g.Lift(x, stabiliser);
        Assert.Equal(g.OrbitDimension, (int)orbits.shape[1]);
        long s = lifted.shape[1];
        Assert.Equal(stabiliser is null || !g.HasStabiliser ? 1 : stabiliser.shape[0], s);
        var reference = g switch
        {
            SO3 => torch.cat(new[] { torch.zeros(6, 2, dtype: ScalarType.Float64), orbits }, 1),
            SO2 => torch.cat(new[] { orbits, torch.zeros(6, 1, dtype: ScalarType.Float64) }, 1),
            _ => torch.zeros(6, g.SpaceDimension, dtype: ScalarType.Float64),
        };
        var moved = g.Act(lifted, reference.unsqueeze(1).expand(6, s, g.SpaceDimension));
        Assert.True(E3.MaxAbs(moved - x.unsqueeze(1)) < 1e-12);
    }

    [Fact]
    public void BadShapesGiveClearErrors()
    {
        var e = Assert.Throws<EquiSharp.Graphs.GraphValidationException>(() => SE3.Instance.Exp(torch.zeros(4, 3)));
        Assert.Contains("[..., 6]", e.Message);
        e = Assert.Throws<EquiSharp.Graphs.GraphValidationException>(() => SO3.Instance.Log(torch.zeros(2, 4, 4)));
        Assert.Contains("[..., 3, 3]", e.Message);
        var dilations = new ScaleTranslationGroup(2);
        e = Assert.Throws<EquiSharp.Graphs.GraphValidationException>(() => dilations.Exp(torch.zeros(4, 2)));
        Assert.Contains("[..., 3]", e.Message);
        e = Assert.Throws<EquiSharp.Graphs.GraphValidationException>(() => dilations.Scalings(torch.tensor(new[] { 1.0, -2 })));
        Assert.Contains("positive", e.Message);
    }

    [Fact]
    public void ScaleTranslationElementsScaleAndTranslatePoints()
    {
        var g = new ScaleTranslationGroup(2);
        var a = torch.tensor(new[] { Math.Log(3), 0.0, 0.0 }).unsqueeze(0);
        var x = torch.tensor(new[] { 1.0, -2 }).unsqueeze(0);
        Assert.True(E3.MaxAbs(g.Act(g.Exp(a), x) - 3 * x) < 1e-14);
        // A pure translation has λ = 0, where Exp uses its series: (0, u) moves points by u.
        var shift = torch.tensor(new[] { 0.0, 0.5, -1 }).unsqueeze(0);
        Assert.True(E3.MaxAbs(g.Act(g.Exp(shift), x) - (x + shift.narrow(1, 1, 2))) < 1e-15);
        // Scaling is not distance-preserving: the group is not a subgroup of E(2).
        var scaled = g.Exp(torch.tensor(new[] { 0.7, 0.3, 0.1 }).unsqueeze(0));
        Assert.True(Math.Abs(g.Act(scaled, x).norm().item<double>() - x.norm().item<double>()) > 0.1);
        // Gradients are finite at λ = 0 (series branch).
        var zero = torch.zeros(1, 3, dtype: ScalarType.Float64).requires_grad_(true);
        g.Log(g.Exp(zero)).sum().backward();
        Assert.True(torch.isfinite(zero.grad!).all().item<bool>());
    }
}
