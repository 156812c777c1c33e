using EquiSharp.Datasets.Molecules;
using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Tests.Datasets.Molecules;
using EquiSharp.Tests.TestUtilities;
using EquiSharp.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Models;

/// <summary>Symmetries of the molecular models (equivariance kit, float64) and forces as −dE/dx.</summary>
public class MolecularModelsTests
{
    private static MoleculeBatchSource Source(string model, int molecules = 3)
    {
        var set = Qm9.LoadNpz(MoleculeDataTests.Fixture("qm9_fixture.npz")).SelectTarget("homo");
        var features = model == "egnn" ? AtomFeatureKind.ChargePowers : AtomFeatureKind.OneHot;
        return new MoleculeBatchSource(set.Subset(Enumerable.Range(0, molecules).ToArray()), new MoleculeGraphOptions(features, DType: ScalarType.Float64));
    }

    private static nn.Module<GraphBatch, Tensor> Model(string name, int features, int seed)
    {
        torch.manual_seed(seed);
        var model = MolecularModels.Create(name, new MolecularModelOptions(NodeChannels: features, Hidden: 8, Layers: 2, Cutoff: 5.0, RadialBasis: 6));
        model.to(ScalarType.Float64).eval();
        return model;
    }

    [Theory]
    [InlineData("egnn")]
    [InlineData("schnet")]
    [InlineData("mpnn")]
    [InlineData("segnn")]
    public void MolecularModelIsE3AndPermutationInvariant(string name)
    {
        var source = Source(name);
        var model = Model(name, source.Options.FeatureCount, 31);
        using var batch = source.CreateBatch([0, 1, 2]);
        var report = EquivarianceChecker.Check(b => model.forward(b), batch, FieldSpec.Graph("property", FieldType.Invariant),
            new EquivarianceOptions { Name = name });
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
        foreach (var check in new[] { "rotation", "reflection", "translation", "permutation" })
            Assert.Contains(report.Cases, c => c.Check == check);
    }

    [Fact]
    public void PointConvIsTranslationAndPermutationInvariantButNotRotationInvariant()
    {
        var source = Source("pointconv");
        var model = Model("pointconv", source.Options.FeatureCount, 32);
        using var batch = source.CreateBatch([0, 1]);
        var report = EquivarianceChecker.Check(b => model.forward(b), batch, FieldSpec.Graph("property", FieldType.Invariant),
            new EquivarianceOptions { Name = "pointconv" });
        Assert.Contains("rotation", report.FailedChecks);
        Assert.Contains("reflection", report.FailedChecks);
        Assert.DoesNotContain("translation", report.FailedChecks);
        Assert.DoesNotContain("permutation", report.FailedChecks);
    }

    [Fact]
    public void PonitaIsExactlyInvariantForItsGridsSymmetriesAndApproximatelyForOtherRotations()
    {
        var source = Source("ponita");
        torch.manual_seed(36);
        var model = EquiSharp.Tests.GroupConv.PonitaTests.Randomized(
            new MolecularPonita(new MolecularModelOptions(NodeChannels: source.Options.FeatureCount, Hidden: 8, Layers: 2), EquiSharp.Groups.SphereGrids.Icosahedron(), calibrate: false), 37);
        model.eval();
        using var batch = source.CreateBatch([0, 1, 2]);
        var y = model.forward(batch);
        double scale = EquiSharp.Tests.MessagePassing.E3.MaxAbs(y);
        Assert.True(scale > 1e-6);
        double Error(Tensor r)
        {
            using var rotated = new InputFieldTypes().Apply(batch, new EquiSharp.Symmetry.EuclideanTransform(r));
            return EquiSharp.Tests.MessagePassing.E3.MaxAbs(model.forward(rotated) - y) / scale;
        }
        var group = EquiSharp.Groups.RotationGroups.Icosahedral();
        double worst = Enumerable.Range(0, (int)group.shape[0]).Max(k => Error(group[k]));
        double inversion = Error(-torch.eye(3, dtype: ScalarType.Float64));
        double random = EquiSharp.Symmetry.Rotations.RandomSO3(4, new Generator(38)).unbind(0).Max(Error);
        Assert.True(worst < 1e-12, $"icosahedral rotations: {worst}");
        Assert.True(inversion < 1e-12, $"inversion: {inversion}");
        Assert.InRange(random, 1e-8, 1.0); // approximate only: the grid is not invariant under these
        var report = EquivarianceChecker.Check(b => model.forward(b), batch, FieldSpec.Graph("property", FieldType.Invariant),
            new EquivarianceOptions { Name = "ponita", Rotations = false, Reflections = false, Combined = false });
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
    }

    [Theory]
    [InlineData("schnet")]
    [InlineData("egnn")]
    [InlineData("segnn")]
    public void ForcesAreMinusTheFiniteDifferenceGradientOfTheEnergy(string name)
    {
        var source = Source(name, 2);
        var energy = Model(name, source.Options.FeatureCount, 33);
        var field = new ForceField(energy);
        field.eval();
        using var batch = source.CreateBatch([0, 1]);
        var (e, f) = field.EnergyAndForces(batch);
        Assert.Equal(new long[] { 2 }, e.shape);
        // Central differences of the total energy along every coordinate.
        var x = batch.Positions.detach().clone();
        var flat = x.view(-1);
        double h = 1e-5;
        var numeric = new double[flat.shape[0]];
        using (torch.no_grad())
            for (int k = 0; k < numeric.Length; k++)
            {
                double v = flat[k].item<double>();
                flat[k] = v + h;
                double plus = energy.forward(batch with { Positions = x }).sum().item<double>();
                flat[k] = v - h;
                double minus = energy.forward(batch with { Positions = x }).sum().item<double>();
                flat[k] = v;
                numeric[k] = -(plus - minus) / (2 * h);
            }
        var analytic = f.contiguous().view(-1).data<double>().ToArray();
        double scale = numeric.Max(Math.Abs);
        Assert.True(scale > 1e-6, "forces vanish: the test would be vacuous");
        for (int k = 0; k < numeric.Length; k++)
            Assert.True(Math.Abs(numeric[k] - analytic[k]) <= 1e-6 * Math.Max(1, scale), $"component {k}: autograd {analytic[k]}, finite differences {numeric[k]}");
    }

    [Fact]
    public void ForceFieldOutputsInvariantEnergiesAndEquivariantForces()
    {
        var source = Source("schnet");
        var field = new ForceField(Model("schnet", source.Options.FeatureCount, 34));
        field.eval();
        using var batch = source.CreateBatch([0, 1]);
        var report = EquivarianceChecker.Check(b =>
        {
            var (e, f) = field.EnergyAndForces(b);
            return new Dictionary<string, Tensor> { ["energy"] = e.unsqueeze(1), ["forces"] = f };
        }, batch, [FieldSpec.Graph("energy", FieldType.Invariant), FieldSpec.Node("forces", FieldType.Vector)], new EquivarianceOptions { Name = "SchNet forces" });
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
    }

    [Fact]
    public void TrainingOnForcesUsesDoubleBackwardAndLowersTheLoss()
    {
        var frames = Md17.Load(MoleculeDataTests.Fixture("rmd17_ethanol_train_01.npz"));
        var normalizer = TargetNormalizer.FitEnergyForces(frames);
        var source = new MoleculeBatchSource(frames, new MoleculeGraphOptions(AtomFeatureKind.OneHot, DType: ScalarType.Float64), normalizer);
        torch.manual_seed(35);
        var field = new ForceField(MolecularModels.Create("schnet", new MolecularModelOptions(NodeChannels: 5, Hidden: 8, Layers: 2, Cutoff: 5, RadialBasis: 8)));
        field.to(ScalarType.Float64);
        var task = new EnergyForceTask(energyWeight: 0, forceWeight: 1, scale: normalizer.Scale[0]);
        using var batch = source.CreateBatch(Enumerable.Range(0, frames.Count).ToArray());
        field.train();
        // Only the force term: its gradient w.r.t. the parameters exists only through double backward.
        var loss = task.Loss(field.forward(batch), batch);
        var parameters = field.parameters().ToArray();
        var grads = torch.autograd.grad([loss], parameters, allow_unused: true);
        Assert.Contains(grads, g => g is not null && g.abs().max().item<double>() > 0);
        var before = Trainer.Evaluate(field, task, source, 12)["force_mae"];
        var optimizer = torch.optim.Adam(field.parameters(), lr: 1e-2);
        for (int step = 0; step < 15; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            task.Loss(field.forward(batch), batch).backward();
            optimizer.step();
        }
        var after = Trainer.Evaluate(field, task, source, 12)["force_mae"];
        Assert.True(after < before, $"force MAE {before} → {after}");
    }
}
