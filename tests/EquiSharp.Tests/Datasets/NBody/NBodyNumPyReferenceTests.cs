using EquiSharp.Datasets.NBody;
using Xunit;

namespace EquiSharp.Tests.Datasets.NBody;

public class NBodyNumPyReferenceTests
{
    private static readonly NBodySimulationOptions Short = new(Steps: 400, RecordEvery: 100);

    [Fact]
    public void FollowsTheReferenceStreamLayoutAndPhysics()
    {
        // Replay the reference script's draws by hand: per trajectory 5 charges, randn(3, 5) positions,
        // randn(3, 5) velocity directions (norm 0.5), then 2 · Frames · 15 discarded noise normals.
        var sizes = new NBodySplitSizes(2, 1, 1);
        var draws = new NBodySplitSizes(3, 2, 2);
        var data = NBodyNumPyReference.Simulate(43, sizes, draws, Short, maxParallelism: 1);
        var rng = new NumPyLegacyRandom(43);
        int frames = Short.Frames;
        var expected = new List<(double[] X, double[] V, double[] Q)>();
        for (int t = 0; t < draws.Train + draws.Valid + draws.Test; t++)
        {
            var q = new double[5];
            for (int i = 0; i < 5; i++) q[i] = rng.Choice(new[] { 0.5, 0, 0.5 }) == 0 ? -1 : 1;
            var g = new double[15];
            var x = new double[15];
            var v = new double[15];
            rng.FillGaussian(g);
            for (int c = 0; c < 3; c++) for (int i = 0; i < 5; i++) x[3 * i + c] = g[c * 5 + i];
            rng.FillGaussian(g);
            for (int i = 0; i < 5; i++)
            {
                double norm = Math.Sqrt(g[i] * g[i] + g[5 + i] * g[5 + i] + g[10 + i] * g[10 + i]);
                for (int c = 0; c < 3; c++) v[3 * i + c] = g[c * 5 + i] * 0.5 / norm;
            }
            rng.SkipGaussians(2 * frames * 15);
            expected.Add((x, v, q));
        }
        // Kept trajectories: train 0, 1; valid 0 (stream index 3); test 0 (stream index 5).
        var picks = new[] { (NBodySplit.Train, 0, 0), (NBodySplit.Train, 1, 1), (NBodySplit.Valid, 0, 3), (NBodySplit.Test, 0, 5) };
        foreach (var (split, t, stream) in picks)
        {
            var traj = data[(int)split];
            var (x0, v0, q) = expected[stream];
            Assert.Equal(q, traj.Charges.AsSpan(t * 5, 5).ToArray());
            // Our own integrator (direct squared distances) from the same initial state agrees to rounding.
            var outX = new double[frames * 15];
            var outV = new double[frames * 15];
            NBodySimulator.Integrate(Short, x0.ToArray(), v0.ToArray(), q, new double[15], outX, outV);
            for (int k = 0; k < outX.Length; k++)
            {
                Assert.Equal(outX[k], traj.Positions[traj.Offset(t, 0, 0) + k], 9);
                Assert.Equal(outV[k], traj.Velocities[traj.Offset(t, 0, 0) + k], 9);
            }
        }
    }

    [Fact]
    public void SkippedDrawsKeepLaterSplitsFixed()
    {
        var draws = new NBodySplitSizes(4, 2, 2);
        var few = NBodyNumPyReference.Simulate(43, new NBodySplitSizes(1, 1, 1), draws, Short);
        var more = NBodyNumPyReference.Simulate(43, new NBodySplitSizes(4, 2, 1), draws, Short);
        Assert.Equal(few[1].Positions, more[1].Positions.Take(few[1].Positions.Length));
        Assert.Equal(few[2].Positions, more[2].Positions);
        Assert.Equal(few[0].Positions, more[0].Positions.Take(few[0].Positions.Length));
        // Asking for more training trajectories than were drawn extends the draws (and moves later splits).
        var extended = NBodyNumPyReference.Simulate(43, new NBodySplitSizes(5, 1, 1), draws, Short);
        Assert.NotEqual(few[1].Positions, extended[1].Positions);
    }

    [Fact]
    public void ReferenceForcesEqualTheDirectFormula()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            var x = Enumerable.Range(0, 15).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
            var q = Enumerable.Range(0, 5).Select(_ => rng.Next(2) == 0 ? -1.0 : 1.0).ToArray();
            var direct = new double[15];
            var reference = new double[15];
            NBodySimulator.Forces(x, q, direct);
            NBodyNumPyReference.Forces(x, q, reference, new double[25]);
            for (int k = 0; k < 15; k++) Assert.Equal(direct[k], reference[k], 1e-9 * Math.Max(1, Math.Abs(direct[k])));
        }
    }

    [Fact]
    public void DatasetRecordsTheStreamAndRoundTrips()
    {
        var dir = Directory.CreateTempSubdirectory("equisharp-numpy-").FullName;
        try
        {
            var data = NBodyDataset.Generate(43, new NBodySplitSizes(2, 1, 1), Short, stream: NBodyRandomStream.NumPyReference);
            Assert.Equal(NBodyRandomStream.NumPyReference, data.RandomStream);
            var path = Path.Combine(dir, "nbody.npz");
            data.Save(path);
            var back = NBodyDataset.Load(path);
            Assert.Equal(NBodyRandomStream.NumPyReference, back.RandomStream);
            Assert.Equal(data.Test.Positions, back.Test.Positions);
            Assert.Throws<ArgumentOutOfRangeException>(() => NBodyDataset.Generate(-1, new NBodySplitSizes(1, 1, 1), Short, stream: NBodyRandomStream.NumPyReference));
            Assert.Throws<ArgumentException>(() => NBodyNumPyReference.Simulate(1, new NBodySplitSizes(1, 1, 1), options: new NBodySimulationOptions(Steps: 450, RecordEvery: 100)));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
