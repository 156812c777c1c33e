using EquiSharp.Datasets.NBody;
using Xunit;
using Xunit.Abstractions;

namespace EquiSharp.Tests.Datasets.NBody;

public class NBodySimulatorTests(ITestOutputHelper output)
{
    [Fact]
    public void TwoParticleForceMatchesCoulomb()
    {
        // Like charges 2 apart on the x axis: |F| = 1/4, pushing them apart.
        double[] x = { 0, 0, 0, 2, 0, 0 };
        var f = new double[6];
        NBodySimulator.Forces(x, new double[] { 1, 1 }, f);
        Assert.Equal(new[] { -0.25, 0, 0, 0.25, 0, 0 }, f);
        // Opposite charges attract; general direction (1, 2, 2) of norm 3: F_0 = q0 q1 (x0 - x1)/27.
        x = new double[] { 1, 2, 2, 0, 0, 0 };
        NBodySimulator.Forces(x, new double[] { 1, -1 }, f);
        Assert.Equal(-1.0 / 27, f[0], 15);
        Assert.Equal(-2.0 / 27, f[1], 15);
        Assert.Equal(-2.0 / 27, f[2], 15);
        Assert.Equal(1.0 / 27, f[3], 15);
        Assert.Equal(2.0 / 27, f[5], 15);
    }

    [Fact]
    public void ForceIsClippedPerComponent()
    {
        // Distance 0.05 along (1, 0.001, 0): the x component (≈ 400) is clipped to 100, y (≈ 0.4) is not.
        double r = 0.05, a = 0.001;
        double[] x = { 0, 0, 0, r, r * a, 0 };
        var f = new double[6];
        NBodySimulator.Forces(x, new double[] { 1, 1 }, f);
        double d = r * Math.Sqrt(1 + a * a);
        double fy = -(r * a) / (d * d * d);
        Assert.Equal(-100, f[0]);
        Assert.Equal(100, f[3]);
        Assert.Equal(fy, f[1], 12);
        Assert.True(Math.Abs(fy) < 100 && Math.Abs(fy) > 0.1);
        // Three particles: clipping acts on the summed force, not on each pair term.
        // Particle 0 is pushed by -400 (from 0.05) and +100 (from -0.1): clip(-300) = -100, whereas
        // clipping each pair first would give -100 + 100 = 0.
        x = new double[] { 0, 0, 0, 0.05, 0, 0, -0.1, 0, 0 };
        var f3 = new double[9];
        NBodySimulator.Forces(x, new double[] { 1, 1, 1 }, f3);
        Assert.Equal(-100, f3[0], 12);
    }

    [Fact]
    public void IntegratorFollowsTheProtocolStepByStep()
    {
        // Two steps, a frame every step: first kick v += dt F(x0); s = 1: x += dt v, record, kick.
        var o = new NBodySimulationOptions(Particles: 2, Steps: 3, RecordEvery: 1, Dt: 0.1);
        Assert.Equal(2, o.Frames);
        double[] x = { 0, 0, 0, 2, 0, 0 }, v = { 0, 1, 0, 0, 0, 0 }, q = { 1, 1 };
        var fx = new double[6];
        var outX = new double[12];
        var outV = new double[12];
        NBodySimulator.Integrate(o, x.ToArray(), v.ToArray(), q, fx, outX, outV);
        // First kick: F0 = (-0.25, 0, 0): v0 = (-0.025, 1, 0), v1 = (0.025, 0, 0).
        double[] v1 = { -0.025, 1, 0, 0.025, 0, 0 };
        double[] x1 = new double[6];
        for (int k = 0; k < 6; k++) x1[k] = x[k] + 0.1 * v1[k];
        for (int k = 0; k < 6; k++)
        {
            Assert.Equal(x1[k], outX[k], 15);
            Assert.Equal(v1[k], outV[k], 15); // velocity recorded = the one used in this step's update
        }
        var f1 = new double[6];
        NBodySimulator.Forces(x1, q, f1);
        for (int k = 0; k < 6; k++)
        {
            double v2 = v1[k] + 0.1 * f1[k];
            Assert.Equal(v2, outV[6 + k], 15);
            Assert.Equal(x1[k] + 0.1 * v2, outX[6 + k], 15);
        }
    }

    [Fact]
    public void FrameKIsTheStateAtStep100TimesKPlusOne()
    {
        var o = new NBodySimulationOptions();
        Assert.Equal(49, o.Frames);
        Assert.Equal(100, o.StepOfFrame(0));
        Assert.Equal(4900, o.StepOfFrame(48));
        // Re-run a tiny simulation with a frame every step and compare: frame k of the 100-step
        // recording must equal step 100(k+1) of the every-step recording.
        var fine = NBodySimulator.Simulate(2, 5, o with { Steps = 501, RecordEvery = 1 });
        var coarse = NBodySimulator.Simulate(2, 5, o with { Steps = 501 });
        Assert.Equal(500, fine.Frames);
        Assert.Equal(5, coarse.Frames);
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 5; k++)
                for (int c = 0; c < 15; c++)
                {
                    Assert.Equal(fine.Positions[fine.Offset(s, 100 * (k + 1) - 1, 0) + c], coarse.Positions[coarse.Offset(s, k, 0) + c]);
                    Assert.Equal(fine.Velocities[fine.Offset(s, 100 * (k + 1) - 1, 0) + c], coarse.Velocities[coarse.Offset(s, k, 0) + c]);
                }
    }

    [Fact]
    public void InitialStateHasUnitChargesAndSpeedHalf()
    {
        // With one step and one frame: frame 0 is x0 + dt v0' where v0' = v0 + dt F(x0). Using
        // Dt = 1e-12 makes the recorded velocity v0 to 1e-10, whose norm must be 0.5.
        var o = new NBodySimulationOptions(Steps: 2, RecordEvery: 1, Dt: 1e-12);
        var t = NBodySimulator.Simulate(400, 3, o);
        int plus = 0;
        for (int s = 0; s < t.Count; s++)
            for (int p = 0; p < 5; p++)
            {
                long a = t.Offset(s, 0, p);
                double n = Math.Sqrt(t.Velocities[a] * t.Velocities[a] + t.Velocities[a + 1] * t.Velocities[a + 1] + t.Velocities[a + 2] * t.Velocities[a + 2]);
                Assert.Equal(0.5, n, 8);
                double q = t.Charges[s * 5 + p];
                Assert.True(q is 1.0 or -1.0);
                if (q > 0) plus++;
            }
        Assert.InRange(plus / 2000.0, 0.45, 0.55);
        // Positions ~ N(0, 1): mean ≈ 0, variance ≈ 1 over 6000 numbers.
        var xs = Enumerable.Range(0, t.Count).SelectMany(s => t.Positions.Skip((int)t.Offset(s, 0, 0)).Take(15)).ToArray();
        double mean = xs.Average(), variance = xs.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(variance, 0.93, 1.07);
    }

    [Fact]
    public void DeterministicFromSeedAndIndependentOfCountAndThreads()
    {
        var o = new NBodySimulationOptions(Steps: 1001);
        var a = NBodySimulator.Simulate(6, 42, o, maxParallelism: 1);
        var b = NBodySimulator.Simulate(6, 42, o, maxParallelism: 4);
        var prefix = NBodySimulator.Simulate(3, 42, o);
        var other = NBodySimulator.Simulate(6, 43, o);
        Assert.Equal(a.Positions, b.Positions);
        Assert.Equal(a.Velocities, b.Velocities);
        Assert.Equal(a.Charges, b.Charges);
        Assert.Equal(prefix.Positions, a.Positions.Take(prefix.Positions.Length));
        Assert.NotEqual(a.Positions, other.Positions);
    }

    [Fact]
    public void InvalidOptionsNameTheField()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => NBodySimulator.Simulate(1, 0, new NBodySimulationOptions(Dt: -1)));
        Assert.Equal("Dt", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => NBodySimulator.Simulate(1, 0, new NBodySimulationOptions(Steps: 50, RecordEvery: 100)));
        Assert.Equal("RecordEvery", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => NBodySimulator.Simulate(-1, 0));
    }

    [Fact]
    public void TestSetStatisticsMatchTheBenchmarkSanityFigures()
    {
        // 500 test trajectories of the full protocol (5000 steps). Reference: no motion 0.26–0.28,
        // constant velocity 0.11–0.13, ±10% between datasets.
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var data = NBodyDataset.Generate(1, new NBodySplitSizes(0, 0, 500));
        double still = data.BaselineMse(NBodySplit.Test, NBodyBaseline.NoMotion);
        double constant = data.BaselineMse(NBodySplit.Test, NBodyBaseline.ConstantVelocity);
        output.WriteLine($"500 test trajectories (seed 1) in {sw.ElapsedMilliseconds} ms: no motion MSE {still:F4}, constant velocity MSE {constant:F4}");
        Assert.InRange(still, 0.26 * 0.9, 0.28 * 1.1);
        Assert.InRange(constant, 0.11 * 0.9, 0.13 * 1.1);
    }
}
