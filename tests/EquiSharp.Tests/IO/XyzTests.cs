using EquiSharp.IO;
using Xunit;

namespace EquiSharp.Tests.IO;

public class XyzTests
{
    [Fact]
    public void ReadsPlainXyzFramesWithExtraColumnsAndFortranExponents()
    {
        const string text = "3\nwater\nO 0.0 0.0 0.1173\nH 0.0 0.7572 -0.4692\nH 0.0 -0.7572 -0.4692\n\n2\nsecond\n C 1.0 2.0 3.0 -0.5\n C 1.5*^-1 2D0 -3 0.25";
        var frames = Xyz.Read(new StringReader(text), "mem");
        Assert.Equal(2, frames.Count);
        Assert.Equal(["O", "H", "H"], frames[0].Symbols);
        Assert.Equal(-0.4692, frames[0].Positions[8]);
        Assert.Equal("water", frames[0].Comment);
        Assert.Equal([0.15, 2.0, -3.0], frames[1].Positions[3..]);
        Assert.Equal([-0.5, 0.25], frames[1].Arrays["extra"]);
    }

    [Fact]
    public void ReadsExtendedXyzPropertiesAndInfo()
    {
        const string text = "2\nLattice=\"50.0 0.0 0.0 0.0 50.0 0.0 0.0 0.0 50.0\" Properties=species:S:1:pos:R:3:forces:R:3 energy=-97.5 config_type=md pbc=\"F F F\"\n" +
                            "C 0.0 0.0 0.0 0.1 0.2 0.3\nO 1.2 0.0 0.0 -0.1 -0.2 -0.3\n";
        var frame = Assert.Single(Xyz.Read(new StringReader(text)));
        Assert.Equal("-97.5", frame.Info["energy"]);
        Assert.Equal("F F F", frame.Info["pbc"]);
        Assert.Equal("md", frame.Info["config_type"]);
        Assert.Equal([0.1, 0.2, 0.3, -0.1, -0.2, -0.3], frame.Arrays["forces"]);
        Assert.Equal(1.2, frame.Positions[3]);
    }

    [Theory]
    [InlineData("x\ncomment\nC 0 0 0\n", "line 1", "atom count")]
    [InlineData("2\ncomment\nC 0 0 0\n", "line 4", "declares 2 atoms")]
    [InlineData("1\ncomment\nC 0 zero 0\n", "line 3", "coordinate y 'zero'")]
    [InlineData("1\ncomment\nC 0 0\n", "line 3", "symbol x y z")]
    [InlineData("1\nProperties=species:S:1:pos:R:3:forces:R:3\nC 0 0 0 1 2\n", "line 3", "Properties declares 7")]
    [InlineData("1\nProperties=species:S:1:forces:R:3\nC 0 0 0\n", "line 2", "pos:R:3")]
    [InlineData("2\nc\nC 0 0 0 1\nC 0 0 0\n", "line 4", "earlier atoms had 5")]
    public void RejectsMalformedInputNamingSourceLineAndField(string text, string line, string detail)
    {
        var e = Assert.Throws<XyzFormatException>(() => Xyz.Read(new StringReader(text), "bad.xyz"));
        Assert.Contains("bad.xyz", e.Message);
        Assert.Contains(line, e.Message);
        Assert.Contains(detail, e.Message);
    }
}
