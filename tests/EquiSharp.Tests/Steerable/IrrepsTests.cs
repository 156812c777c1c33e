using EquiSharp.Steerable;
using EquiSharp.Symmetry;
using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class IrrepsTests
{
    [Fact]
    public void Parse_Print_RoundTrip_AndDimensions()
    {
        var irreps = Irreps.Parse("16x0e + 8x1o+2e");
        Assert.Equal("16x0e+8x1o+1x2e", irreps.ToString());
        Assert.Equal(16 + 24 + 5, irreps.Dim);
        Assert.Equal(25, irreps.NumIrreps);
        Assert.Equal(2, irreps.Lmax);
        Assert.Equal((16, 40), irreps.Slice(1));
        Assert.Equal(irreps, Irreps.Parse(irreps.ToString()));
        Assert.Equal(Irreps.Empty, Irreps.Parse(""));
        Assert.Equal(new Irrep(3, -1), Irrep.Parse("3y"));
        Assert.Equal(new Irrep(2, 1), Irrep.Parse("2y"));
        Assert.Equal("0e+1o+2e+3o", Irreps.SphericalHarmonics(3).ToString().Replace("1x", ""));
    }

    [Theory]
    [InlineData("16x0e+8x1q", "8x1q")]
    [InlineData("ax0e", "ax0e")]
    [InlineData("0e++1o", "empty token")]
    [InlineData("3x-1o", "3x-1o")]
    [InlineData("1o+x", "'x'")]
    public void Parse_BadStrings_NameTheOffendingToken(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => Irreps.Parse(text));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Simplify_Sort_Products()
    {
        Assert.Equal("3x0e+2x1o", Irreps.Parse("1x0e+2x0e+0x2e+2x1o").Simplify().ToString());
        var (sorted, perm, inv) = Irreps.Parse("1x2e+3x0e+1x1e+1x1o+1x0o").Sort();
        Assert.Equal("3x0e+1x0o+1x1o+1x1e+1x2e", sorted.ToString());
        Assert.Equal(new[] { 4, 0, 3, 2, 1 }, perm);
        Assert.Equal(new[] { 1, 4, 3, 2, 0 }, inv);
        Assert.Equal(new[] { "1e", "2e", "3e" }, new Irrep(1, -1).Times(new Irrep(2, -1)).Select(i => i.ToString()));
        Assert.True(new Irrep(1, -1).CanCouple(new Irrep(1, -1), new Irrep(1, 1)));
        Assert.False(new Irrep(1, -1).CanCouple(new Irrep(1, -1), new Irrep(1, -1)));
        Assert.Equal("2x0e+2x1o+2x1e+2x2e", Irreps.Parse("2x1o").TensorProduct(Irreps.Parse("1o+0e")).ToString());
        Assert.Equal("1x0e+1x1o", (Irreps.Parse("0e") + Irreps.Parse("1o")).ToString());
        Assert.Equal("2x0e+4x1o", (2 * Irreps.Parse("0e+2x1o")).ToString());
    }

    [Fact]
    public void D_IsBlockDiagonal_WithParity()
    {
        using var scope = torch.NewDisposeScope();
        var irreps = Irreps.Parse("2x0e+0o+1o+1e");
        var r = Rotations.RandomSO3(new Generator(1));
        var d = irreps.D(r);
        Assert.Equal(new long[] { 9, 9 }, d.shape);
        Assert.Equal(1.0, d[0, 0].item<double>(), 12);
        Assert.True(torch.allclose(d[TensorIndex.Slice(3, 6), TensorIndex.Slice(3, 6)], r, 1e-10, 1e-12));
        var improper = -r;
        var di = irreps.D(improper);
        Assert.Equal(-1.0, di[2, 2].item<double>(), 12); // 0o
        Assert.True(torch.allclose(di[TensorIndex.Slice(3, 6), TensorIndex.Slice(3, 6)], improper, 1e-10, 1e-12)); // 1o: D = R
        Assert.True(torch.allclose(di[TensorIndex.Slice(6, 9), TensorIndex.Slice(6, 9)], r, 1e-10, 1e-12)); // 1e: D = det(R) R
        Assert.Equal(0.0, di[0, 3].item<double>());
    }

    [Fact]
    public void PrintThenParse_IsTheIdentity_AndDimensionsAdd()
    {
        Prop.ForAll(Gen.Choose(0, 10_000).ToArbitrary(), seed =>
        {
            var rnd = new Random(seed);
            var blocks = Enumerable.Range(0, rnd.Next(0, 6)).Select(_ => new MulIrrep(rnd.Next(0, 20), new Irrep(rnd.Next(0, 9), rnd.Next(2) == 0 ? 1 : -1))).ToArray();
            var irreps = new Irreps(blocks);
            var parsed = Irreps.Parse(irreps.ToString());
            var simplified = irreps.Simplify();
            return parsed == irreps
                && irreps.Dim == blocks.Sum(b => b.Mul * (2 * b.Irrep.L + 1))
                && simplified.Dim == irreps.Dim
                && irreps.Sort().Sorted.Dim == irreps.Dim
                && (irreps + simplified).Dim == 2 * irreps.Dim;
        }).QuickCheckThrowOnFailure();
    }
}
