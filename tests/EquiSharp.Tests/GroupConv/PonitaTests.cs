using EquiSharp.Datasets.NBody;
using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.GroupConv;
using EquiSharp.Groups;
using EquiSharp.Models;
using EquiSharp.Tests.MessagePassing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquiSharp.Tests.GroupConv;

public class PonitaTests(ITestOutputHelper output)
{
    private static readonly Lazy<NBodyDataset> Data = new(() =>
        NBodyDataset.Generate(12, new NBodySplitSizes(0, 0, 10), new NBodySimulationOptions(Steps: 4101)));

    private static readonly NBodyModelOptions Small = new(Hidden: 8, Layers: 2);

    /// <summary>A float64 PONITA N-body model on <paramref name="grid"/> with all weights (layer scales included) random of order 0.3.</summary>
    private static NBodyPonita Model(Tensor grid, ulong seed) => Randomized(new NBodyPonita(Small, grid), seed);

    /// <summary>The module in float64 with every parameter drawn N(0, 0.3²) from a seeded generator.</summary>
    internal static T Randomized<T>(T module, ulong seed) where T : nn.Module
    {
        module.to(ScalarType.Float64);
        var gen = new Generator(seed);
        using var _ = torch.no_grad();
        foreach (var p in module.parameters())
            p.copy_(torch.randn(p.shape, dtype: p.dtype, generator: gen) * 0.3);
        return module;
    }

    private static GraphBatch Rotated(GraphBatch b, Tensor r) => b with
    {
        Positions = b.Positions.matmul(r.t()),
        NodeVectors = b.NodeVectors!.matmul(r.t()),
    };

    /// <summary>max |f(Rx) − R f(x)| / max |f(x) − x| over the rotations [G, 3, 3], for an N-body model predicting positions.</summary>
    internal static double WorstError(nn.Module<GraphBatch, Tensor> model, GraphBatch batch, Tensor rotations)
    {
        using var scope = torch.NewDisposeScope();
        var y = model.forward(batch);
        double scale = E3.MaxAbs(y - batch.Positions), worst = 0;
        for (long k = 0; k < rotations.shape[0]; k++)
        {
            var r = rotations[k];
            var err = E3.MaxAbs(model.forward(Rotated(batch, r)) - y.matmul(r.t())) / scale;
            worst = Math.Max(worst, err);
        }
        return worst;
    }

    [Fact]
    public void ExactlyEquivariantForTheSymmetryGroupOfASymmetricGrid()
    {
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2 }, dtype: ScalarType.Float64);
        double octahedral = WorstError(Model(SphereGrids.Octahedron(), 3), batch, RotationGroups.Octahedral());
        double icosahedral = WorstError(Model(SphereGrids.Icosahedron(), 4), batch, RotationGroups.Icosahedral());
        output.WriteLine($"relative equivariance error: octahedral grid (6) x 24 rotations {octahedral:E2}; icosahedral grid (12) x 60 rotations {icosahedral:E2}");
        Assert.True(octahedral < 1e-12, $"octahedral {octahedral}");
        Assert.True(icosahedral < 1e-12, $"icosahedral {icosahedral}");
    }

    [Fact]
    public void RandomRotationsGiveAMeasuredApproximationError()
    {
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2 }, dtype: ScalarType.Float64);
        var rotations = EquiSharp.Symmetry.Rotations.RandomSO3(8, new Generator(5));
        var errors = new List<string>();
        double previous = double.PositiveInfinity;
        foreach (int n in new[] { 6, 16, 64 })
        {
            double err = WorstError(Model(SphereGrids.Sphere(n), 6), batch, rotations);
            errors.Add($"{n}: {err:E2}");
            // Approximate, not exact: the error is far above round-off, and it shrinks as the grid gets finer.
            Assert.InRange(err, 1e-6, 1.0);
            Assert.True(err < previous, $"grid {n}: error {err} not below the coarser grid's {previous}");
            previous = err;
        }
        output.WriteLine($"relative equivariance error for 8 random rotations (repulsion grids, random weights): {string.Join(", ", errors)}");
    }

    [Fact]
    public void TranslationAndPermutationEquivariantAndBatchingInvariant()
    {
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2 }, dtype: ScalarType.Float64);
        var model = Model(SphereGrids.Sphere(7), 8);
        var report = EquivarianceChecker.Check(model.forward, batch, FieldSpec.Node("x", FieldType.Position),
            new EquivarianceOptions { Name = "ponita", Rotations = false, Reflections = false, Combined = false });
        output.WriteLine(report.ToString());
        Assert.True(report.Passed, report.ToString());
    }

    [Fact]
    public void PairInvariantsAreExactlyInvariant()
    {
        var gen = new Generator(9);
        var grid = SphereGrids.Sphere(16);
        var relative = torch.randn(new long[] { 30, 3 }, dtype: ScalarType.Float64, generator: gen) * 3;
        var r = EquiSharp.Symmetry.Rotations.RandomSO3(gen);
        var a = PositionOrientation.SpatialInvariants(relative, grid);
        var b = PositionOrientation.SpatialInvariants(relative.matmul(r.t()), grid.matmul(r.t()));
        Assert.True(E3.MaxAbs(a - b) < 1e-13, $"spatial {E3.MaxAbs(a - b)}");
        var f = PositionOrientation.FiberInvariants(grid) - PositionOrientation.FiberInvariants(grid.matmul(r.t()));
        Assert.True(E3.MaxAbs(f) < 1e-14);
        // The two spatial invariants decompose r: (r·o)² + d⊥² = |r|².
        var norm2 = relative.square().sum(1, keepdim: true);
        Assert.True(E3.MaxAbs(a.square().sum(2) - norm2) < 1e-12);
    }

    [Fact]
    public void LiftingThenVectorReadoutOfASphericalDesignIsAThirdOfTheVector()
    {
        // Σ_o o oᵀ / O = I / 3 for the octahedron and icosahedron (spherical 2-designs), so the readout of a lifted vector is v / 3.
        var v = torch.randn(new long[] { 4, 2, 3 }, dtype: ScalarType.Float64, generator: new Generator(2));
        var s = torch.randn(new long[] { 4, 1 }, dtype: ScalarType.Float64, generator: new Generator(3));
        foreach (var grid in new[] { SphereGrids.Octahedron(), SphereGrids.Icosahedron() })
        {
            var lifted = PositionOrientation.Lift(s, v, grid);
            Assert.Equal(new long[] { 4, grid.shape[0], 3 }, lifted.shape);
            var (scalars, vectors) = PositionOrientation.Readout(lifted, grid, 1);
            Assert.True(E3.MaxAbs(scalars - s) < 1e-15);
            Assert.True(E3.MaxAbs(vectors - v / 3) < 1e-15);
        }
    }

    [Fact]
    public void PlanarPonitaIsExactlyEquivariantForTheCyclicGroupOfItsCircleGrid()
    {
        var gen = new Generator(4);
        var grid = SphereGrids.Circle(8);
        var net = new Ponita(new PonitaOptions(1, 1, 1, 1, Hidden: 8, Layers: 2, BasisDimension: 8), grid);
        net.to(ScalarType.Float64);
        using (torch.no_grad())
            foreach (var p in net.parameters()) p.copy_(torch.randn(p.shape, dtype: p.dtype, generator: gen) * 0.3);
        var x = torch.randn(new long[] { 6, 2 }, dtype: ScalarType.Float64, generator: gen);
        var v = torch.randn(new long[] { 6, 1, 2 }, dtype: ScalarType.Float64, generator: gen);
        var s = torch.randn(new long[] { 6, 1 }, dtype: ScalarType.Float64, generator: gen);
        var edges = torch.tensor(new long[] { 0, 1, 2, 3, 4, 5, 1, 2, 0, 5, 3, 0, 1, 2, 0, 3, 4, 5, 0, 0, 1, 2, 4, 5 }, new long[] { 2, 12 });
        var (s0, v0) = net.forward((s, v, x, edges));
        var rotations = RotationGroups.Cyclic(8);
        for (long k = 1; k < 8; k++)
        {
            var r = rotations[k];
            var (s1, v1) = net.forward((s, v.matmul(r.t()), x.matmul(r.t()) + 0.7, edges));
            Assert.True(E3.MaxAbs(s1 - s0) < 1e-12, $"k {k}: scalar {E3.MaxAbs(s1 - s0)}");
            Assert.True(E3.MaxAbs(v1 - v0.matmul(r.t())) < 1e-12, $"k {k}: vector {E3.MaxAbs(v1 - v0.matmul(r.t()))}");
        }
        // A rotation off the grid's group is only approximately respected.
        var off = EquiSharp.Symmetry.Rotations.Matrix2D(torch.tensor(0.3));
        var (_, v2) = net.forward((s, v.matmul(off.t()), x.matmul(off.t()), edges));
        Assert.True(E3.MaxAbs(v2 - v0.matmul(off.t())) > 1e-6);
    }

    [Fact]
    public void SelfLoopOptionEqualsExplicitSelfLoopEdges()
    {
        var gen = new Generator(13);
        var grid = SphereGrids.Sphere(5);
        var implicitLoops = new Ponita(new PonitaOptions(2, 1, 1, 2, Hidden: 8, Layers: 2, BasisDimension: 8, Cutoff: 4.0), grid);
        var explicitLoops = new Ponita(new PonitaOptions(2, 1, 1, 2, Hidden: 8, Layers: 2, BasisDimension: 8, Cutoff: 4.0, SelfLoops: false), grid);
        implicitLoops.to(ScalarType.Float64);
        explicitLoops.to(ScalarType.Float64);
        using (torch.no_grad())
            foreach (var (a, b) in implicitLoops.parameters().Zip(explicitLoops.parameters()))
            {
                a.copy_(torch.randn(a.shape, dtype: a.dtype, generator: gen) * 0.3);
                b.copy_(a);
            }
        var x = torch.randn(new long[] { 5, 3 }, dtype: ScalarType.Float64, generator: gen) * 2;
        var v = torch.randn(new long[] { 5, 1, 3 }, dtype: ScalarType.Float64, generator: gen);
        var s = torch.randn(new long[] { 5, 2 }, dtype: ScalarType.Float64, generator: gen);
        var edges = torch.tensor(new long[] { 0, 1, 2, 3, 4, 1, 2, 3, 4, 0 }, new long[] { 2, 5 });
        var loops = torch.arange(5L);
        var withLoops = torch.cat(new[] { edges, torch.stack(new[] { loops, loops }) }, 1);
        var (s1, v1) = implicitLoops.forward((s, v, x, edges));
        var (s2, v2) = explicitLoops.forward((s, v, x, withLoops));
        Assert.True(E3.MaxAbs(s1 - s2) < 1e-13 && E3.MaxAbs(v1 - v2) < 1e-13);
        var (s3, _) = explicitLoops.forward((s, v, x, edges));
        Assert.True(E3.MaxAbs(s3 - s2) > 1e-4); // the self-loop term matters
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var model = new NBodyPonita(Small);
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0 });
        var e = Assert.Throws<GraphValidationException>(() => model.forward(batch with { NodeFeatures = null }));
        Assert.Contains("NodeFeatures", e.Message);
        e = Assert.Throws<GraphValidationException>(() => model.forward(batch with { NodeVectors = batch.NodeVectors!.view(5, 3) }));
        Assert.Contains("[5, 3]", e.Message);
        Assert.Throws<ArgumentException>(() => new Ponita(new PonitaOptions(1, 0, 1, 0), torch.ones(4)));
    }

    private static FiberBundleConv[] Convolutions(Ponita model) =>
        model.named_modules().Select(m => m.module).OfType<FiberBundleConv>().ToArray();

    private static (double Input, double Spatial, double Orientation)[] Statistics(Ponita model, (Tensor?, Tensor?, Tensor, Tensor) input)
    {
        var convs = Convolutions(model);
        foreach (var c in convs) c.RecordStatistics = true;
        using (torch.no_grad()) model.forward(input);
        foreach (var c in convs) c.RecordStatistics = false;
        return convs.Select(c => c.LastStatistics!.Value).ToArray();
    }

    [Fact]
    public void CalibrationMakesEachConvolutionPreserveItsInputScaleOnceAndIsSavedWithTheWeights()
    {
        var grid = SphereGrids.Sphere(6);
        var options = new PonitaOptions(1, 1, 0, 1, Hidden: 8, Layers: 3, BasisDimension: 8, Calibrate: true);
        torch.manual_seed(5);
        var model = new Ponita(options, grid);
        model.to(ScalarType.Float64);
        var gen = new Generator(21);
        var x = torch.randn(new long[] { 10, 3 }, dtype: ScalarType.Float64, generator: gen) * 2;
        var v = torch.randn(new long[] { 10, 1, 3 }, dtype: ScalarType.Float64, generator: gen);
        var q = torch.randn(new long[] { 10, 1 }, dtype: ScalarType.Float64, generator: gen);
        var edges = torch.tensor(new long[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 0, 6, 7, 8, 9, 5 }, new long[] { 2, 10 });
        var input = ((Tensor?)q, (Tensor?)v, x, edges);
        Tensor Weights() => torch.cat(model.parameters().Select(p => p.detach().flatten()).ToArray());

        model.eval();
        var before = Statistics(model, input);
        Assert.Contains(before, s => Math.Abs(s.Spatial / s.Input - 1) > 0.1 || Math.Abs(s.Orientation / s.Spatial - 1) > 0.1);
        Assert.False(model.Calibrated); // evaluation never calibrates
        var initial = Weights();
        model.train();
        model.forward(input);
        Assert.True(model.Calibrated);
        model.eval();

        // The first layer's input does not depend on the kernels, so its ratios are exactly 1 after calibration;
        // later layers see inputs changed by at most the tiny layer-scaled residuals.
        var after = Statistics(model, input);
        Assert.Equal(1.0, after[0].Spatial / after[0].Input, 10);
        Assert.Equal(1.0, after[0].Orientation / after[0].Spatial, 10);
        foreach (var s in after)
        {
            Assert.InRange(s.Spatial / s.Input, 0.999, 1.001);
            Assert.InRange(s.Orientation / s.Spatial, 0.999, 1.001);
        }
        var calibrated = Weights();
        Assert.True(E3.MaxAbs(calibrated - initial) > 1e-3);
        model.train();
        model.forward(input); // only once
        Assert.Equal(0.0, E3.MaxAbs(Weights() - calibrated));

        // The flag travels with the weights: a loaded model is not calibrated again.
        var path = Path.Combine(Path.GetTempPath(), $"ponita-calibrated-{Guid.NewGuid():N}.bin");
        try
        {
            model.save(path);
            var loaded = new Ponita(options, grid);
            loaded.to(ScalarType.Float64);
            Assert.False(loaded.Calibrated);
            loaded.load(path);
            Assert.True(loaded.Calibrated);
            loaded.train();
            var w = torch.cat(loaded.parameters().Select(p => p.detach().flatten()).ToArray());
            loaded.forward(input);
            Assert.Equal(0.0, E3.MaxAbs(torch.cat(loaded.parameters().Select(p => p.detach().flatten()).ToArray()) - w));
        }
        finally { File.Delete(path); }

        // Off by default: no buffer, nothing changes in training mode.
        var plain = new Ponita(options with { Calibrate = false }, grid);
        Assert.Null(plain.Calibrated);
        Assert.DoesNotContain(plain.state_dict().Keys, k => k.Contains("calibrated"));
    }

    [Fact]
    public void CalibratedModelIsStillExactlyEquivariantForTheGridGroup()
    {
        var grid = SphereGrids.Octahedron();
        torch.manual_seed(8);
        var model = Randomized(new NBodyPonita(Small with { Calibrate = true }, grid), 3);
        using var b64 = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2 }, dtype: ScalarType.Float64);
        model.train();
        model.forward(b64);
        Assert.True(model.Network.Calibrated);
        model.eval();
        Assert.True(WorstError(model, b64, RotationGroups.Octahedral()) < 1e-12);
    }
}
