using EquiSharp.Symmetry;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Symmetry;

public class RotationsTests
{
    private static double MaxAbs(Tensor t) => t.abs().max().item<double>();

    private static double OrthogonalityError(Tensor r) =>
        MaxAbs(r.transpose(-1, -2).matmul(r) - torch.eye(r.shape[^1], dtype: ScalarType.Float64));

    [Fact]
    public void RandomSO3_IsOrthogonalWithDeterminantPlusOne()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomSO3(500, new Generator(1));
        Assert.Equal(new long[] { 500, 3, 3 }, r.shape);
        Assert.True(OrthogonalityError(r) < 1e-13);
        Assert.True(MaxAbs(torch.linalg.det(r) - 1) < 1e-13);
    }

    [Fact]
    public void RandomO3_HasBothDeterminantsAboutHalfEach()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomO3(1000, new Generator(2));
        Assert.True(OrthogonalityError(r) < 1e-13);
        var det = torch.linalg.det(r);
        Assert.True(MaxAbs(det.abs() - 1) < 1e-13);
        long negative = (det < 0).sum().item<long>();
        // Binomial(1000, 1/2): sd ≈ 16.
        Assert.InRange(negative, 420, 580);
    }

    [Fact]
    public void RandomReflection_AlwaysHasDeterminantMinusOne_InSeveralDimensions()
    {
        using var scope = torch.NewDisposeScope();
        foreach (int d in new[] { 2, 3, 4 })
        {
            var r = Rotations.RandomReflection(d, 50, new Generator(3));
            Assert.True(OrthogonalityError(r) < 1e-13);
            Assert.True(MaxAbs(torch.linalg.det(r) + 1) < 1e-12, $"d = {d}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(5)]
    public void RandomSpecialOrthogonal_OtherDimensions(int d)
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomSpecialOrthogonal(d, 200, new Generator(4));
        Assert.True(OrthogonalityError(r) < 1e-12);
        Assert.True(MaxAbs(torch.linalg.det(r) - 1) < 1e-12);
        // Haar: every entry has mean 0.
        Assert.True(MaxAbs(r.mean(new long[] { 0 })) < 0.2);
        var o = Rotations.RandomOrthogonal(d, 400, new Generator(5));
        long negative = (torch.linalg.det(o) < 0).sum().item<long>();
        Assert.InRange(negative, 140, 260);
    }

    [Fact]
    public void RandomSO3_IsHaarDistributed_MomentsOfEntriesAndTrace()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomSO3(4000, new Generator(6));
        // E[R] = 0 and E[R_ij^2] = 1/3 for Haar measure; standard error of a mean ≈ 0.577/sqrt(4000) ≈ 0.009.
        Assert.True(MaxAbs(r.mean(new long[] { 0 })) < 0.04);
        Assert.True(MaxAbs(r.pow(2).mean(new long[] { 0 }) - 1.0 / 3) < 0.03);
        // Trace = 1 + 2 cos θ with density (1 − cos θ)/π: E[tr] = 0, E[tr²] = 1.
        var tr = r.diagonal(0, -2, -1).sum(-1);
        Assert.True(Math.Abs(tr.mean().item<double>()) < 0.05);
        Assert.True(Math.Abs(tr.pow(2).mean().item<double>() - 1) < 0.08);
        // (A uniform rotation angle, a common mistake, would give E[tr] = 1.)
    }

    [Fact]
    public void Samplers_AreReproducibleWithASeed_AndIndependentOfDtype()
    {
        using var scope = torch.NewDisposeScope();
        var a = Rotations.RandomSO3(new Generator(42));
        var b = Rotations.RandomSO3(new Generator(42));
        var c = Rotations.RandomSO3(new Generator(43));
        var f = Rotations.RandomSO3(new Generator(42), ScalarType.Float32);
        Assert.Equal(0.0, MaxAbs(a - b));
        Assert.True(MaxAbs(a - c) > 1e-3);
        Assert.Equal(ScalarType.Float32, f.dtype);
        Assert.True(MaxAbs(f.to(ScalarType.Float64) - a) < 1e-6);
        Assert.Equal(new long[] { 3, 3 }, a.shape);
        Assert.Throws<ArgumentException>(() => Rotations.RandomSO3(new Generator(1), ScalarType.Int64));
    }

    [Fact]
    public void RandomSO2_AndO2()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomSO2(300, new Generator(8));
        Assert.True(OrthogonalityError(r) < 1e-14);
        Assert.True(MaxAbs(torch.linalg.det(r) - 1) < 1e-14);
        var angle = Rotations.MatrixToAngle2D(r);
        Assert.True(Math.Abs(angle.cos().mean().item<double>()) < 0.15);
        var o = Rotations.RandomO2(300, new Generator(9));
        long negative = (torch.linalg.det(o) < 0).sum().item<long>();
        Assert.InRange(negative, 100, 200);
    }

    [Fact]
    public void ElementaryRotations_FollowTheRightHandRuleAndE3nnConvention()
    {
        using var scope = torch.NewDisposeScope();
        var half = torch.tensor(Math.PI / 2);
        var ex = torch.tensor(new[] { 1.0, 0, 0 }); var ey = torch.tensor(new[] { 0.0, 1, 0 }); var ez = torch.tensor(new[] { 0.0, 0, 1 });
        Assert.True(MaxAbs(Rotations.MatrixZ(half).matmul(ex) - ey) < 1e-15); // z: x → y
        Assert.True(MaxAbs(Rotations.MatrixX(half).matmul(ey) - ez) < 1e-15); // x: y → z
        Assert.True(MaxAbs(Rotations.MatrixY(half).matmul(ez) - ex) < 1e-15); // y: z → x
        Assert.True(MaxAbs(Rotations.AxisAngleToMatrix(ez, half) - Rotations.MatrixZ(half)) < 1e-15);
        // e3nn: angles_to_matrix(α, β, γ) = Y(α) X(β) Y(γ).
        var (a, b, g) = (torch.tensor(0.3), torch.tensor(1.1), torch.tensor(-2.0));
        var expected = Rotations.MatrixY(a).matmul(Rotations.MatrixX(b)).matmul(Rotations.MatrixY(g));
        Assert.True(MaxAbs(Rotations.EulerAnglesToMatrix(a, b, g) - expected) < 1e-15);
        // R(α, β, 0) e_y points at the spherical angles (α, β) measured from the y axis: (sin β sin α, cos β, sin β cos α).
        var y = Rotations.EulerAnglesToMatrix(a, b, torch.tensor(0.0)).matmul(ey);
        var xyz = torch.tensor(new[] { Math.Sin(1.1) * Math.Sin(0.3), Math.Cos(1.1), Math.Sin(1.1) * Math.Cos(0.3) });
        Assert.True(MaxAbs(y - xyz) < 1e-15);
    }

    [Fact]
    public void Quaternion_RoundTrip_AndHomomorphism()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(10);
        var r = Rotations.RandomSO3(1000, gen);
        var q = Rotations.MatrixToQuaternion(r);
        Assert.True((q[.., 0] >= 0).all().item<bool>());
        Assert.True(MaxAbs(q.norm(-1) - 1) < 1e-14);
        Assert.True(MaxAbs(Rotations.QuaternionToMatrix(q) - r) < 1e-14);
        var q1 = torch.randn(new long[] { 50, 4 }, dtype: ScalarType.Float64, generator: gen);
        var q2 = torch.randn(new long[] { 50, 4 }, dtype: ScalarType.Float64, generator: gen);
        q1 = q1 / q1.norm(-1, keepdim: true); q2 = q2 / q2.norm(-1, keepdim: true);
        var lhs = Rotations.QuaternionToMatrix(Rotations.QuaternionMultiply(q1, q2));
        var rhs = Rotations.QuaternionToMatrix(q1).matmul(Rotations.QuaternionToMatrix(q2));
        Assert.True(MaxAbs(lhs - rhs) < 1e-14);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1e-12)]
    [InlineData(1e-7)]
    [InlineData(0.5)]
    [InlineData(2.0)]
    [InlineData(Math.PI - 1e-7)]
    [InlineData(Math.PI - 1e-12)]
    [InlineData(Math.PI)]
    public void AxisAngle_RoundTrip_IncludingNearIdentityAndPi(double angle)
    {
        using var scope = torch.NewDisposeScope();
        var axes = torch.randn(new long[] { 20, 3 }, dtype: ScalarType.Float64, generator: new Generator(11));
        axes = axes / axes.norm(-1, keepdim: true);
        var angles = torch.full(20, angle, dtype: ScalarType.Float64);
        var r = Rotations.AxisAngleToMatrix(axes, angles);
        Assert.True(OrthogonalityError(r) < 1e-14);
        var (axis2, angle2) = Rotations.MatrixToAxisAngle(r);
        Assert.True(MaxAbs(Rotations.AxisAngleToMatrix(axis2, angle2) - r) < 1e-14);
        // The recovered angle is accurate to ~1e-15 absolutely even where acos((tr − 1)/2) would lose half the digits.
        Assert.True(MaxAbs(angle2 - angle) < 1e-14, $"angle error {MaxAbs(angle2 - angle)}");
        if (angle > 1e-6 && angle < Math.PI - 1e-6)
            Assert.True(MaxAbs(axis2 - axes) < 1e-8); // the axis is determined (up to sign at π)
        // Rotation vectors round trip too.
        var v = axes * angles.unsqueeze(-1);
        var rv = Rotations.RotationVectorToMatrix(v);
        Assert.True(MaxAbs(rv - r) < 1e-14);
        if (angle < Math.PI - 1e-6)
            Assert.True(MaxAbs(Rotations.MatrixToRotationVector(rv) - v) < 1e-14);
    }

    [Fact]
    public void MatrixToQuaternion_IsAccurateNearPiWhereTraceIsMinusOne()
    {
        using var scope = torch.NewDisposeScope();
        // 180° about (1, 1, 0)/√2 and about each coordinate axis: w = 0, trace = −1.
        var axes = torch.tensor(new[] { 1.0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 }).reshape(4, 3);
        var r = Rotations.AxisAngleToMatrix(axes, torch.full(4, Math.PI, dtype: ScalarType.Float64));
        var q = Rotations.MatrixToQuaternion(r);
        Assert.True(MaxAbs(Rotations.QuaternionToMatrix(q) - r) < 1e-15);
        Assert.True(MaxAbs(q[.., 0]) < 1e-15);
    }

    [Fact]
    public void EulerAngles_RoundTrip_IncludingGimbalLock()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomSO3(500, new Generator(12));
        var (a, b, g) = Rotations.MatrixToEulerAngles(r);
        Assert.True(MaxAbs(Rotations.EulerAnglesToMatrix(a, b, g) - r) < 1e-13);
        Assert.True((b >= 0).all().item<bool>() && (b <= Math.PI).all().item<bool>());
        // Recover the angles themselves away from gimbal lock.
        var alpha = torch.tensor(new[] { 0.3, -2.5, 3.0 }); var beta = torch.tensor(new[] { 0.7, 2.9, 1e-3 }); var gamma = torch.tensor(new[] { -1.0, 0.1, 2.2 });
        var (a2, b2, g2) = Rotations.MatrixToEulerAngles(Rotations.EulerAnglesToMatrix(alpha, beta, gamma));
        Assert.True(MaxAbs(a2 - alpha) < 1e-10 && MaxAbs(b2 - beta) < 1e-12 && MaxAbs(g2 - gamma) < 1e-10);
        // β = 0, π, and near identity: the matrix still round trips.
        foreach (double beta0 in new[] { 0.0, Math.PI, 1e-12, Math.PI - 1e-12 })
        {
            var m = Rotations.EulerAnglesToMatrix(torch.tensor(0.4), torch.tensor(beta0), torch.tensor(-0.9));
            var (x, y, z) = Rotations.MatrixToEulerAngles(m);
            Assert.True(MaxAbs(Rotations.EulerAnglesToMatrix(x, y, z) - m) < 1e-14, $"beta = {beta0}");
        }
        var eye = torch.eye(3, dtype: ScalarType.Float64);
        var (e1, e2, e3) = Rotations.MatrixToEulerAngles(eye);
        Assert.True(MaxAbs(Rotations.EulerAnglesToMatrix(e1, e2, e3) - eye) < 1e-15);
    }

    [Fact]
    public void Conversions_RejectWrongShapes()
    {
        using var scope = torch.NewDisposeScope();
        var e1 = Assert.Throws<ArgumentException>(() => Rotations.MatrixToQuaternion(torch.zeros(2, 3)));
        Assert.Contains("[2, 3]", e1.Message);
        Assert.Throws<ArgumentException>(() => Rotations.QuaternionToMatrix(torch.zeros(5, 3)));
        var reflections = Rotations.RandomReflection(3, 4, new Generator(14));
        var e2 = Assert.Throws<ArgumentException>(() => Rotations.MatrixToQuaternion(reflections));
        Assert.Contains("reflection", e2.Message);
        Assert.Throws<ArgumentException>(() => Rotations.MatrixToEulerAngles(reflections));
        Assert.Throws<ArgumentOutOfRangeException>(() => Rotations.RandomSO3(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Rotations.RandomOrthogonal(0));
    }

    [Fact]
    public void SplitParity_GivesAProperRotationAndTheSignOfTheDeterminant()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomO3(200, new Generator(13));
        var (proper, parity) = Rotations.SplitParity(r);
        Assert.True(MaxAbs(torch.linalg.det(proper) - 1) < 1e-13);
        Assert.True(MaxAbs(proper * parity.unsqueeze(-1).unsqueeze(-1) - r) == 0);
        Assert.True(MaxAbs(parity - torch.linalg.det(r)) < 1e-13);
        Assert.True((parity < 0).any().item<bool>() && (parity > 0).any().item<bool>());
    }

    [Fact]
    public void Householder_IsAReflection()
    {
        using var scope = torch.NewDisposeScope();
        var n = torch.tensor(new[] { 1.0, 2, -2 });
        var h = Rotations.Householder(n);
        Assert.True(OrthogonalityError(h) < 1e-15);
        Assert.True(Math.Abs(torch.linalg.det(h).item<double>() + 1) < 1e-14);
        Assert.True(MaxAbs(h.matmul(n) + n) < 1e-14);
    }
}
