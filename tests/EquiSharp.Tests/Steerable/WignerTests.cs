using EquiSharp.Steerable;
using EquiSharp.Symmetry;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class WignerTests
{
    [Fact]
    public void D1_EqualsTheRotationMatrix_IncludingReflections()
    {
        using var scope = torch.NewDisposeScope();
        var rs = Rotations.RandomO3(20, new Generator(1));
        Assert.True(torch.allclose(WignerD.Irrep(new Irrep(1, -1), rs), rs, 1e-12, 1e-12));
        Assert.True(torch.allclose(WignerD.Matrix(1, rs), rs, 1e-12, 1e-12));
        var det = torch.linalg.det(rs).reshape(20, 1, 1);
        Assert.True(torch.allclose(WignerD.Irrep(new Irrep(1, 1), rs), rs * det, 1e-12, 1e-12));
    }

    [Fact]
    public void D_IsAnOrthogonalHomomorphism_ForIrrepsWithParity()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(2);
        var a = Rotations.RandomO3(8, gen);
        var b = Rotations.RandomO3(8, gen);
        foreach (var ir in new[] { "0e", "0o", "1o", "1e", "2e", "2o", "3o", "5e", "7o" }.Select(Irrep.Parse))
        {
            var da = WignerD.Irrep(ir, a);
            var db = WignerD.Irrep(ir, b);
            var dab = WignerD.Irrep(ir, a.matmul(b));
            Assert.True(torch.allclose(dab, da.matmul(db), 1e-9, 1e-10), $"{ir}: homomorphism");
            var eye = torch.eye(ir.Dim, dtype: ScalarType.Float64).expand(8, ir.Dim, ir.Dim);
            Assert.True(torch.allclose(da.matmul(da.transpose(1, 2)), eye, 1e-9, 1e-10), $"{ir}: orthogonal");
            var inv = WignerD.Irrep(ir, -torch.eye(3, dtype: ScalarType.Float64));
            Assert.True(torch.allclose(inv, torch.eye(ir.Dim, dtype: ScalarType.Float64) * ir.P, 1e-10, 1e-12), $"{ir}: D(-I) = p");
        }
    }

    [Fact]
    public void D_FromAnglesAndQuaternions_AgreeWithMatrices()
    {
        using var scope = torch.NewDisposeScope();
        var r = Rotations.RandomSO3(4, new Generator(3));
        var (alpha, beta, gamma) = Rotations.MatrixToEulerAngles(r);
        Assert.True(torch.allclose(WignerD.FromAngles(3, alpha, beta, gamma), WignerD.Matrix(3, r), 1e-9, 1e-10));
        Assert.True(torch.allclose(WignerD.FromQuaternion(3, Rotations.MatrixToQuaternion(r)), WignerD.Matrix(3, r), 1e-9, 1e-10));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 1, 2)]
    [InlineData(2, 1, 3)]
    [InlineData(2, 2, 2)]
    [InlineData(3, 2, 4)]
    [InlineData(0, 3, 3)]
    [InlineData(4, 4, 6)]
    public void ThreeJ_IsInvariant_UnitNorm_AndPermutationSymmetric(int l1, int l2, int l3)
    {
        using var scope = torch.NewDisposeScope();
        var c = Wigner3j.Get(l1, l2, l3);
        Assert.Equal(1.0, c.norm().item<double>(), 12);
        var rs = Rotations.RandomSO3(5, new Generator(4));
        for (int k = 0; k < 5; k++)
        {
            var r = rs[k];
            var rotated = torch.einsum("ia,jb,kc,abc->ijk", WignerD.Matrix(l1, r), WignerD.Matrix(l2, r), WignerD.Matrix(l3, r), c);
            Assert.True(torch.allclose(rotated, c, 1e-9, 1e-10), $"rotation {k}: {(rotated - c).abs().max().item<double>()}");
        }
        // Permuting the degrees permutes the indices, up to the sign (−1)^(l1+l2+l3) for odd permutations.
        double odd = (l1 + l2 + l3) % 2 == 0 ? 1 : -1;
        Assert.True(torch.allclose(Wigner3j.Get(l2, l1, l3), c.permute(1, 0, 2) * odd, 1e-12, 1e-12));
        Assert.True(torch.allclose(Wigner3j.Get(l1, l3, l2), c.permute(0, 2, 1) * odd, 1e-12, 1e-12));
        Assert.True(torch.allclose(Wigner3j.Get(l2, l3, l1), c.permute(1, 2, 0), 1e-12, 1e-12));
    }

    [Fact]
    public void ThreeJ_KnownValues_AndErrors()
    {
        using var scope = torch.NewDisposeScope();
        // (1, 1, 0): δ_ij / √3; (1, 1, 1): the Levi-Civita symbol / √6 (e3nn's values).
        Assert.True(torch.allclose(Wigner3j.Get(1, 1, 0).squeeze(-1), torch.eye(3, dtype: ScalarType.Float64) / Math.Sqrt(3), 1e-12, 1e-12));
        var eps = Wigner3j.Get(1, 1, 1) * Math.Sqrt(6);
        Assert.Equal(1.0, Math.Abs(eps[0, 1, 2].item<double>()), 12);
        Assert.Equal(eps[0, 1, 2].item<double>(), -eps[1, 0, 2].item<double>(), 12);
        Assert.Throws<ArgumentException>(() => Wigner3j.Get(1, 1, 3));
    }
}
