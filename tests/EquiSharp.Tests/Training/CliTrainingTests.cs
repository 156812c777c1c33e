using System.Globalization;
using EquiSharp.Cli;
using EquiSharp.Cli.Training;
using EquiSharp.Datasets.NBody;
using EquiSharp.IO;
using EquiSharp.Models;
using EquiSharp.Training;
using TorchSharp;
using Xunit;
using static EquiSharp.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Training;

/// <summary>The train / evaluate / predict / nbody generate commands end to end on a tiny data set.</summary>
public class CliTrainingTests : IDisposable
{
    public void Dispose() => DeleteTempFolders();

    internal static (int Code, string Out, string Error) Cli(params string[] args)
    {
        var (oldOut, oldError) = (Console.Out, Console.Error);
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            int code = CliApp.Run(args);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }

    [Fact]
    public void GenerateTrainEvaluatePredictAndResume()
    {
        string root = TempFolder();
        string data = Path.Combine(root, "data"), run = Path.Combine(root, "run");
        var generated = Cli("nbody", "generate", "--out", data, "--seed", "5", "--train", "30", "--valid", "20", "--test", "20");
        Assert.True(generated.Code == 0, generated.Error);
        Assert.Contains("no motion", generated.Out);

        var trained = Cli("train", "--model", "egnn", "--hidden", "8", "--layers", "1", "--data", data, "--data-seed", "5",
            "--train", "30", "--valid", "20", "--test", "20", "--epochs", "4", "--batch-size", "10", "--validate-every", "2",
            "--lr", "1e-3", "--out", run);
        Assert.True(trained.Code == 0, trained.Error + trained.Out);
        foreach (var file in new[] { "checkpoint.ckpt", "metrics.csv", "metrics.json", "learning_curve.png" })
            Assert.True(File.Exists(Path.Combine(run, file)), $"{file} missing");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(run, "learning_curve.png"))[..4]);
        Assert.Empty(Directory.GetFiles(run, "*" + AtomicFile.TempSuffix + "*"));
        var header = Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Header;
        double testMse = header.TestAtBest!["mse"];
        Assert.Contains($"test MSE {CliSupport.F(testMse)}", trained.Out);
        Assert.Equal(1e-3, header.Options.LearningRate);
        Assert.Equal("egnn", header.Metadata["model"]);

        var evaluated = Cli("evaluate", "--checkpoint", Path.Combine(run, "checkpoint.ckpt"));
        Assert.True(evaluated.Code == 0, evaluated.Error);
        Assert.Matches($@"test\s+{CliSupport.F(testMse).Replace(".", "\\.")}", evaluated.Out);
        // EGNN is equivariant: averaging over rotations changes its predictions only by float32 round-off.
        var averaged = Cli("evaluate", "--checkpoint", Path.Combine(run, "checkpoint.ckpt"), "--rotations", "3");
        Assert.True(averaged.Code == 0, averaged.Error);
        Assert.Contains("averaged over 3 rotations", averaged.Out);
        var averagedTest = System.Text.RegularExpressions.Regex.Match(averaged.Out, @"test\s+(\S+)");
        Assert.True(averagedTest.Success, averaged.Out);
        Assert.InRange(double.Parse(averagedTest.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), testMse * (1 - 1e-4) - 2e-6, testMse * (1 + 1e-4) + 2e-6);

        // predict on the test split's input frame reproduces the test MSE against frame 40.
        var dataset = NBodyDataset.Load(Path.Combine(data, NBodyCli.DataFileName));
        var t = dataset.Test;
        int p = t.Particles;
        double[] x = new double[t.Count * p * 3], v = new double[t.Count * p * 3], y = new double[t.Count * p * 3];
        for (int s = 0; s < t.Count; s++)
        {
            Array.Copy(t.Positions, t.Offset(s, 30, 0), x, s * p * 3, p * 3);
            Array.Copy(t.Velocities, t.Offset(s, 30, 0), v, s * p * 3, p * 3);
            Array.Copy(t.Positions, t.Offset(s, 40, 0), y, s * p * 3, p * 3);
        }
        string input = Path.Combine(root, "input.npz"), output = Path.Combine(root, "output.npz");
        Npz.Save(input, new Dictionary<string, NpyArray>
        {
            ["positions"] = NpyArray.Of(x, t.Count, p, 3),
            ["velocities"] = NpyArray.Of(v, t.Count, p, 3),
            ["charges"] = NpyArray.Of(t.Charges, t.Count, p),
        });
        var predicted = Cli("predict", "-c", Path.Combine(run, "checkpoint.ckpt"), "-i", input, "-o", output);
        Assert.True(predicted.Code == 0, predicted.Error);
        var result = Npz.Load(output)["positions"];
        Assert.Equal(new long[] { t.Count, p, 3 }, result.Shape);
        var yHat = result.ToDoubleArray();
        double mse = yHat.Zip(y, (a, b) => (a - b) * (a - b)).Average();
        Assert.Equal(testMse, mse, 5);

        // A finished run is not overwritten, and resuming it changes nothing.
        var again = Cli("train", "--data", data, "--out", run);
        Assert.Equal(1, again.Code);
        Assert.Contains("--resume", again.Error);
        var mismatch = Cli("train", "--data", data, "--train", "31", "--data-seed", "6", "--out", Path.Combine(root, "other"));
        Assert.Equal(1, mismatch.Code);
        Assert.Contains("--data-seed 6 (file: 5), --train 31 (file: 30)", mismatch.Error);
        var resumed = Cli("train", "--out", run, "--resume");
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.Contains($"test MSE {CliSupport.F(testMse)}", resumed.Out);

        // A finished constant-rate run can be extended; it cannot be cut short, and --no-early-stop needs --resume.
        var shorter = Cli("train", "--out", run, "--resume", "--epochs", "3");
        Assert.Equal(1, shorter.Code);
        Assert.Contains("completed 4 epochs; it cannot be shortened to 3", shorter.Error);
        var stray = Cli("train", "--data", data, "--out", Path.Combine(root, "stray"), "--no-early-stop");
        Assert.Equal(1, stray.Code);
        Assert.Contains("--no-early-stop", stray.Error);
        var extended = Cli("train", "--out", run, "--resume", "--epochs", "6", "--lr", "5");
        Assert.True(extended.Code == 0, extended.Error);
        Assert.Contains("ignoring --lr", extended.Error);
        var after = Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Header;
        Assert.Equal(6, after.CompletedEpochs);
        Assert.Equal(6, after.Options.Epochs);
        Assert.Equal(1e-3, after.Options.LearningRate);
        Assert.Equal(Enumerable.Range(1, 6), after.History.Select(r => r.Epoch));

        // A cooldown is added on resume when it begins after the completed epochs, and refused on a cosine run.
        var late = Cli("train", "--out", run, "--resume", "--cooldown", "2");
        Assert.Equal(1, late.Code);
        Assert.Contains("at most 0 cooldown epochs", late.Error);
        var cooled = Cli("train", "--out", run, "--resume", "--epochs", "8", "--cooldown", "2");
        Assert.True(cooled.Code == 0, cooled.Error);
        var last = Checkpoint.Load(Path.Combine(run, "checkpoint.ckpt")).Header;
        Assert.Equal((8, 2), (last.Options.Epochs, last.Options.CooldownEpochs));
        Assert.True(last.History[^1].LearningRate < last.History[5].LearningRate);
        var onCosine = Cli("train", "--data", data, "--out", Path.Combine(root, "cosine"), "--schedule", "cosine", "--cooldown", "2");
        Assert.Equal(1, onCosine.Code);
        Assert.Contains("--cooldown applies to --schedule constant", onCosine.Error);
    }

    [Fact]
    public void PonitaRunsCalibrateOnceAndRotateEverySystem()
    {
        string root = TempFolder();
        string data = Path.Combine(root, "data"), run = Path.Combine(root, "run"), plain = Path.Combine(root, "plain");
        Assert.Equal(0, Cli("nbody", "generate", "--out", data, "--seed", "5", "--train", "20", "--valid", "10", "--test", "10").Code);
        string[] small = ["train", "--model", "ponita", "--hidden", "8", "--layers", "2", "--basis-dim", "8", "--orientations", "6", "--data", data,
            "--epochs", "2", "--warmup", "1", "--batch-size", "10", "--validate-every", "1"];
        var trained = Cli([.. small, "--out", run]);
        Assert.True(trained.Code == 0, trained.Error + trained.Out);
        var path = Path.Combine(run, "checkpoint.ckpt");
        var checkpoint = Checkpoint.Load(path);
        Assert.Equal("True", checkpoint.Header.Metadata["calibrate"]);
        Assert.Equal("True", checkpoint.Header.Metadata["augment"]);
        Assert.Equal(NBodyCli.PerSystemRotations, checkpoint.Header.Metadata[NBodyCli.AugmentRotationsKey]);
        var (_, model) = NBodyCli.CreateModel(checkpoint.Header.Metadata, path);
        Assert.False(((NBodyPonita)model).Network.Calibrated);
        checkpoint.LoadInto(model);
        Assert.True(((NBodyPonita)model).Network.Calibrated);

        var off = Cli([.. small, "--calibrate", "false", "--out", plain]);
        Assert.True(off.Code == 0, off.Error + off.Out);
        var header = Checkpoint.Load(Path.Combine(plain, "checkpoint.ckpt")).Header;
        Assert.Equal("False", header.Metadata["calibrate"]);
        var (_, uncalibrated) = NBodyCli.CreateModel(header.Metadata, path);
        Assert.Null(((NBodyPonita)uncalibrated).Network.Calibrated);
    }

    [Fact]
    public void InitFromStartsANewRunFromTheBestWeightsOfAnother()
    {
        string root = TempFolder();
        string data = Path.Combine(root, "data"), source = Path.Combine(root, "source"), restart = Path.Combine(root, "restart");
        Assert.Equal(0, Cli("nbody", "generate", "--out", data, "--seed", "5", "--train", "20", "--valid", "10", "--test", "10").Code);
        string[] small = ["train", "--model", "ponita", "--layers", "2", "--basis-dim", "8", "--data", data,
            "--batch-size", "10", "--validate-every", "1", "--warmup", "0"];
        var trained = Cli([.. small, "--hidden", "8", "--orientations", "6", "--epochs", "3", "--lr", "1e-2", "--ema", "0.5", "--out", source]); // EMA: the best weights (averaged) differ from the latest
        Assert.True(trained.Code == 0, trained.Error + trained.Out);
        string sourcePath = Path.Combine(source, "checkpoint.ckpt");
        var sourceHeader = Checkpoint.Load(sourcePath).Header;

        // With a negligible rate the first validation of the new run is the source's best validation: its best
        // weights were loaded, and the calibrated kernels were not rescaled a second time.
        var restarted = Cli([.. small, "--hidden", "8", "--orientations", "6", "--epochs", "1", "--lr", "1e-12", "--init-from", sourcePath, "--out", restart]);
        Assert.True(restarted.Code == 0, restarted.Error + restarted.Out);
        Assert.Contains($"initialised from {sourcePath} (weights of epoch {sourceHeader.BestEpoch})", restarted.Out);
        var header = Checkpoint.Load(Path.Combine(restart, "checkpoint.ckpt")).Header;
        Assert.Equal(sourceHeader.BestValidation!["mse"], header.History[0].Validation!["mse"], 1e-9);
        Assert.Equal(Path.GetFullPath(sourcePath), header.Metadata[WarmStart.SourceKey]);
        Assert.Equal(sourceHeader.BestEpoch.ToString(), header.Metadata[WarmStart.EpochKey]);
        Assert.Equal(1, header.CompletedEpochs);

        // Settings that leave every shape alone are allowed with a note; a model whose shapes differ is refused.
        var otherGrid = Cli([.. small, "--hidden", "8", "--orientations", "8", "--epochs", "1", "--init-from", sourcePath, "--out", Path.Combine(root, "grid")]);
        Assert.True(otherGrid.Code == 0, otherGrid.Error + otherGrid.Out);
        Assert.Contains("orientations 6 -> 8", otherGrid.Error);
        var wider = Cli([.. small, "--hidden", "12", "--epochs", "1", "--init-from", sourcePath, "--out", Path.Combine(root, "wider")]);
        Assert.Equal(1, wider.Code);
        Assert.Contains(sourcePath, wider.Error);
        Assert.Contains("do not fit", wider.Error);
        Assert.Contains("the source run's settings differ: hidden 8 -> 12", wider.Error);
        Assert.False(File.Exists(Path.Combine(root, "wider", "checkpoint.ckpt")));
        var missing = Cli([.. small, "--hidden", "8", "--epochs", "1", "--init-from", Path.Combine(root, "none.ckpt"), "--out", Path.Combine(root, "missing")]);
        Assert.Equal(1, missing.Code);
        Assert.Contains("none.ckpt': file not found", missing.Error);
        var both = Cli("train", "--out", restart, "--resume", "--init-from", sourcePath);
        Assert.Equal(1, both.Code);
        Assert.Contains("--init-from starts a new run", both.Error);
    }

    [Fact]
    public void InvalidOptionsGiveClearErrors()
    {
        var r = Cli("train", "--lr", "-1", "--model", "transformer", "--clip", "0");
        Assert.Equal(2, r.Code);
        Assert.Contains("--lr must be a positive finite number, got -1", r.Error);
        Assert.Contains("'transformer'", r.Error);
        Assert.Contains("--clip must be a positive finite number", r.Error);
        Assert.Contains("equisharp train --help", r.Error);

        r = Cli("train", "--warmup", "10", "--epochs", "10", "--out", Path.Combine(TempFolder(), "run"));
        Assert.Equal(1, r.Code);
        Assert.Contains("--warmup (10) must be smaller than the number of epochs (10)", r.Error);

        string bad = Path.Combine(TempFolder(), "bad.ckpt");
        File.WriteAllText(bad, "garbage");
        r = Cli("evaluate", "--checkpoint", bad);
        Assert.Equal(1, r.Code);
        Assert.Contains(bad, r.Error);

        r = Cli("predict", "--checkpoint", bad);
        Assert.Equal(2, r.Code);
        Assert.Contains("--input", r.Error);
    }

    [Fact]
    public void GenerateWithTheNumPyReferenceStream()
    {
        string data = Path.Combine(TempFolder(), "ref");
        var generated = Cli("nbody", "generate", "--out", data, "--stream", "numpy", "--train", "3", "--valid", "2", "--test", "2");
        Assert.True(generated.Code == 0, generated.Error);
        Assert.Contains("NumPy reference stream, seed 43", generated.Out);
        var dataset = NBodyDataset.Load(Path.Combine(data, NBodyCli.DataFileName));
        Assert.Equal(NBodyRandomStream.NumPyReference, dataset.RandomStream);
        Assert.Equal(NBodyNumPyReference.Simulate(43, new NBodySplitSizes(3, 2, 2))[2].Positions, dataset.Test.Positions);
        var bad = Cli("nbody", "generate", "--out", data, "--stream", "mt");
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("'mt' not recognized", bad.Error + bad.Out);
        var negative = Cli("nbody", "generate", "--out", data, "--stream", "numpy", "--seed", "-1");
        Assert.NotEqual(0, negative.Code);
        Assert.Contains("non-negative", negative.Error + negative.Out);
    }

    [Fact]
    public void ArrayBatchesTrainExactlyLikeGraphLists()
    {
        var dataset = NBodyDataset.Generate(9, new NBodySplitSizes(20, 10, 10));
        var options = new TrainerOptions { Epochs = 2, BatchSize = 8, LearningRate = 1e-3, Seed = 4 };
        TrainingResult Train(bool arrays, out Tensor[] weights)
        {
            torch.manual_seed(2);
            var model = NBodyModels.Create("egnn", new NBodyModelOptions(Hidden: 8, Layers: 2));
            using var trainer = new Trainer(model, RegressionTask.NodeMse(), options);
            var result = arrays
                ? trainer.Fit(NBodyCli.Source(dataset, NBodySplit.Train), NBodyCli.Source(dataset, NBodySplit.Valid), NBodyCli.Source(dataset, NBodySplit.Test))
                : trainer.Fit(dataset.ToGraphs(NBodySplit.Train), dataset.ToGraphs(NBodySplit.Valid), dataset.ToGraphs(NBodySplit.Test));
            weights = Weights(model);
            return result;
        }
        var a = Train(arrays: true, out var wa);
        var b = Train(arrays: false, out var wb);
        Assert.Equal(a.History.Select(h => h.TrainLoss), b.History.Select(h => h.TrainLoss));
        Assert.Equal(a.TestAtBest!["mse"], b.TestAtBest!["mse"]);
        for (int i = 0; i < wa.Length; i++)
            Assert.True((wa[i] == wb[i]).all().item<bool>(), $"parameter {i} differs");
    }
}
