using EquiSharp.Datasets.NBody;
using Xunit;

namespace EquiSharp.Tests.Datasets.NBody;

public class NumPyLegacyRandomTests
{
    [Fact]
    public void MersenneTwisterMatchesTheReferenceOutput()
    {
        // Matsumoto and Nishimura's init_genrand(5489): first outputs 3499211612, 581869302.
        var rng = new NumPyLegacyRandom(5489);
        Assert.Equal(3499211612u, rng.NextUInt32());
        Assert.Equal(581869302u, rng.NextUInt32());
    }

    [Fact]
    public void UniformsMatchNumPy()
    {
        // np.random.seed(0); np.random.random_sample(3)
        var rng = new NumPyLegacyRandom(0);
        Assert.Equal(0.5488135039273248, rng.NextDouble());
        Assert.Equal(0.7151893663724195, rng.NextDouble());
        Assert.Equal(0.6027633760716439, rng.NextDouble());
    }

    [Fact]
    public void NormalsMatchNumPyIncludingTheCachedSecondValue()
    {
        // np.random.seed(0); np.random.randn(4)
        var rng = new NumPyLegacyRandom(0);
        double[] expected = { 1.764052345967664, 0.4001572083672233, 0.9787379841057392, 2.240893199201458 };
        foreach (var e in expected) Assert.Equal(e, rng.NextGaussian(), 15);
        // np.random.seed(42); np.random.randn(3)
        rng = new NumPyLegacyRandom(42);
        Assert.Equal(0.4967141530112327, rng.NextGaussian(), 15);
        Assert.Equal(-0.13826430117118466, rng.NextGaussian(), 15);
        Assert.Equal(0.6476885381006925, rng.NextGaussian(), 15);
    }

    [Fact]
    public void ChoiceIsSearchsortedRightOfTheNormalisedCdf()
    {
        var a = new NumPyLegacyRandom(7);
        var b = new NumPyLegacyRandom(7);
        double[] p = { 0.5, 0, 0.5 };
        for (int k = 0; k < 200; k++)
        {
            double u = b.NextDouble();
            Assert.Equal(u < 0.5 ? 0 : 2, a.Choice(p));
        }
        Assert.Throws<ArgumentException>(() => a.Choice(new double[] { 0, 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Choice(new double[] { 0.5, -0.1 }));
    }
}
