using EquiSharp.Cli.Training;
using EquiSharp.Datasets.Molecules;
using EquiSharp.Graphs;
using TorchSharp;
using EquiSharp.Tests.Datasets.Molecules;
using EquiSharp.Training;
using Xunit;
using static EquiSharp.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Training;

/// <summary>train / evaluate / resume for --task qm9 and --task md17 on the committed fixture.</summary>
public class MoleculeCliTests : IDisposable
{
    public void Dispose() => DeleteTempFolders();

    private static (int Code, string Out, string Error) Cli(params string[] args) => CliTrainingTests.Cli(args);

    [Theory]
    [InlineData("egnn")]
    [InlineData("schnet")]
    [InlineData("mpnn")]
    [InlineData("pointconv")]
    public void Qm9TrainEvaluateAndResume(string model)
    {
        string run = Path.Combine(TempFolder(), "run");
        string data = MoleculeDataTests.Fixture("qm9_fixture.npz");
        var trained = Cli("train", "--task", "qm9", "--target", "gap", "--data", data, "--model", model, "--hidden", "8", "--layers", "1",
            "--train", "24", "--valid", "8", "--test", "8", "--epochs", "3", "--batch-size", "8", "--validate-every", "1", "--out", run);
        Assert.True(trained.Code == 0, trained.Error + trained.Out);
        var header = Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Header;
        Assert.Equal("qm9", header.Metadata["task"]);
        Assert.Equal("24,8,8", header.Metadata["sizes"]);
        Assert.Equal(1e-3, header.Options.LearningRate); // EGNN's rate for gap
        double testMae = header.TestAtBest!["mae"];
        Assert.InRange(testMae, 10, 5000); // meV: the gap's spread is about 1000 meV
        Assert.Contains("meV", trained.Out);

        var evaluated = Cli("evaluate", "--checkpoint", Path.Combine(run, "checkpoint.ckpt"));
        Assert.True(evaluated.Code == 0, evaluated.Error);
        Assert.Matches($@"test\s+\S+\s+{testMae.ToString("G5", System.Globalization.CultureInfo.InvariantCulture).Replace(".", "\\.")}", evaluated.Out);
        var averaged = Cli("evaluate", "--checkpoint", Path.Combine(run, "checkpoint.ckpt"), "--rotations", "4");
        Assert.Equal(1, averaged.Code);
        Assert.Contains("--rotations applies to N-body checkpoints", averaged.Error);

        var resumed = Cli("train", "--out", run, "--resume");
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.Equal(testMae, Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Header.TestAtBest!["mae"]);
    }

    [Fact]
    public void Qm9InitFromStartsFromTheSourceRunsBestWeights()
    {
        string root = TempFolder();
        string data = MoleculeDataTests.Fixture("qm9_fixture.npz");
        string[] common = ["train", "--task", "qm9", "--target", "gap", "--data", data, "--model", "egnn", "--hidden", "8", "--layers", "1",
            "--train", "24", "--valid", "8", "--test", "8", "--batch-size", "8", "--validate-every", "1"];
        var source = Cli([.. common, "--epochs", "3", "--out", Path.Combine(root, "source")]);
        Assert.True(source.Code == 0, source.Error + source.Out);
        string sourcePath = Path.Combine(root, "source", "checkpoint.ckpt");
        var sourceHeader = Checkpoint.Load(sourcePath).Header;
        var restarted = Cli([.. common, "--epochs", "1", "--lr", "1e-12", "--init-from", sourcePath, "--out", Path.Combine(root, "restart")]);
        Assert.True(restarted.Code == 0, restarted.Error + restarted.Out);
        var header = Checkpoint.Load(Path.Combine(root, "restart", "checkpoint.ckpt")).Header;
        Assert.Equal(sourceHeader.BestValidation!["mae"], header.History[0].Validation!["mae"], 1e-6 * sourceHeader.BestValidation["mae"]);
        Assert.Equal(Path.GetFullPath(sourcePath), header.Metadata["init_from"]);
        var schnet = Cli([.. common.Select(a => a == "egnn" ? "schnet" : a), "--epochs", "1", "--init-from", sourcePath, "--out", Path.Combine(root, "schnet")]);
        Assert.Equal(1, schnet.Code);
        Assert.Contains("do not fit", schnet.Error);
    }

    [Fact]
    public void TheSameSeedGivesTheSameQm9Run()
    {
        string root = TempFolder();
        string data = MoleculeDataTests.Fixture("qm9_fixture.npz");
        string[] common = ["train", "--task", "qm9", "--target", "U0", "--data", data, "--model", "schnet", "--hidden", "8", "--layers", "1",
            "--subset", "30", "--batch-size", "8", "--validate-every", "1"];
        var full = Cli([.. common, "--epochs", "4", "--out", Path.Combine(root, "full")]);
        Assert.True(full.Code == 0, full.Error);
        var part = Cli([.. common, "--epochs", "4", "--out", Path.Combine(root, "again")]);
        Assert.True(part.Code == 0, part.Error);
        var a = Checkpoint.Load(Path.Combine(root, "full", "checkpoint.ckpt")).Header.History.Select(r => r.TrainLoss);
        var b = Checkpoint.Load(Path.Combine(root, "again", "checkpoint.ckpt")).Header.History.Select(r => r.TrainLoss);
        Assert.Equal(a, b);
    }

    [Fact]
    public void AugmentationRotatesForceTargetsWithThePositions()
    {
        var frames = Md17.Load(MoleculeDataTests.Fixture("rmd17_ethanol_train_01.npz"));
        var source = new MoleculeBatchSource(frames, new MoleculeGraphOptions(AtomFeatureKind.OneHot, DType: ScalarType.Float64));
        int[] all = Enumerable.Range(0, frames.Count).ToArray();
        using var plain = source.CreateBatch(all);
        torch.manual_seed(3);
        using var rotated = MoleculeCli.Rotated(source, forces: true).CreateBatch(all);
        torch.manual_seed(3);
        using var wrong = MoleculeCli.Rotated(source, forces: false).CreateBatch(all);
        // x·F per atom is unchanged when positions and forces turn together (about the origin), and changes otherwise.
        Tensor Dots(GraphBatch b) => (b.Positions * b.NodeTarget!).sum(1);
        Assert.True((rotated.Positions - plain.Positions).abs().max().item<double>() > 1e-3);
        Assert.True((Dots(rotated) - Dots(plain)).abs().max().item<double>() < 1e-9);
        Assert.True((Dots(wrong) - Dots(plain)).abs().max().item<double>() > 1e-3);
        Assert.True((rotated.GraphTarget! - plain.GraphTarget!).abs().max().item<double>() == 0); // energies are invariant
    }

    [Fact]
    public void PonitaRunsAugmentByDefault()
    {
        string run = Path.Combine(TempFolder(), "run"), plain = Path.Combine(TempFolder(), "plain");
        string[] common = ["train", "--task", "qm9", "--target", "homo", "--data", MoleculeDataTests.Fixture("qm9_fixture.npz"), "--model", "ponita",
            "--hidden", "4", "--layers", "1", "--train", "6", "--valid", "2", "--test", "2", "--epochs", "2", "--batch-size", "3", "--validate-every", "1"];
        var trained = Cli([.. common, "--out", run]);
        Assert.True(trained.Code == 0, trained.Error + trained.Out);
        Assert.Equal("True", Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Header.Metadata["augment"]);
        var rejected = Cli([.. common, "--orientations", "20", "--out", Path.Combine(TempFolder(), "rejected")]);
        Assert.Equal(1, rejected.Code);
        Assert.Contains("--orientations only apply to --task nbody", rejected.Error);
        var off = Cli([.. common, "--augment", "false", "--out", plain]);
        Assert.True(off.Code == 0, off.Error + off.Out);
        Assert.Equal("False", Checkpoint.Load(Path.Combine(plain, "checkpoint.ckpt")).Header.Metadata["augment"]);
    }

    [Fact]
    public void Md17TrainEvaluateAndResume()
    {
        string run = Path.Combine(TempFolder(), "run");
        string folder = Path.GetDirectoryName(MoleculeDataTests.Fixture("rmd17_ethanol_train_01.npz"))!;
        var trained = Cli("train", "--task", "md17", "--molecule", "ethanol", "--data", folder, "--model", "schnet", "--hidden", "8", "--layers", "1",
            "--train", "9", "--valid", "3", "--epochs", "2", "--batch-size", "3", "--validate-every", "1", "--out", run);
        Assert.True(trained.Code == 0, trained.Error + trained.Out);
        var header = Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Header;
        Assert.Equal("energy-force", header.Task);
        Assert.Contains("force_mae", header.TestAtBest!.Keys);
        Assert.Contains("rMD17 ethanol", trained.Out);
        var evaluated = Cli("evaluate", "--checkpoint", Path.Combine(run, "checkpoint.ckpt"));
        Assert.True(evaluated.Code == 0, evaluated.Error);
        Assert.Contains("force_mae", evaluated.Out);
        Assert.Matches(@"test\s+\S+", evaluated.Out);
        var resumed = Cli("train", "--out", run, "--resume");
        Assert.True(resumed.Code == 0, resumed.Error);
    }

    [Fact]
    public void MolecularOptionErrorsAreClear()
    {
        string data = MoleculeDataTests.Fixture("qm9_fixture.npz");
        var r = Cli("train", "--task", "qm9", "--model", "linear", "--data", data, "--out", Path.Combine(TempFolder(), "r"));
        Assert.Equal(1, r.Code);
        Assert.Contains("--model linear is not a molecular model", r.Error);
        r = Cli("train", "--task", "qm9", "--target", "entropy", "--data", data, "--out", Path.Combine(TempFolder(), "r"));
        Assert.Equal(1, r.Code);
        Assert.Contains("Unknown QM9 target 'entropy'", r.Error);
        r = Cli("train", "--task", "qm9", "--split", "egnn", "--data", data, "--out", Path.Combine(TempFolder(), "r"));
        Assert.Equal(1, r.Code);
        Assert.Contains("needs the full 130831", r.Error);
        r = Cli("train", "--task", "md17", "--molecule", "aspirin", "--data", Path.GetDirectoryName(data)!, "--out", Path.Combine(TempFolder(), "r"));
        Assert.Equal(1, r.Code);
        Assert.Contains("rmd17_aspirin_train_01.npz not found", r.Error);
        r = Cli("train", "--task", "nbody", "--target", "homo", "--out", Path.Combine(TempFolder(), "r"));
        Assert.Equal(1, r.Code);
        Assert.Contains("--target only apply to --task qm9/md17", r.Error);
    }
}
