using EquiSharp.IO;
using EquiSharp.Training;
using TorchSharp;
using Xunit;
using static EquiSharp.Tests.Training.TrainingFixtures;

namespace EquiSharp.Tests.Training;

public class CheckpointTests : IDisposable
{
    public void Dispose() => DeleteTempFolders();

    private static string TrainedCheckpoint()
    {
        var (train, valid, test) = Splits(train: 20, valid: 8, test: 8);
        string folder = TempFolder();
        using var trainer = new Trainer(Model(4), RegressionTask.NodeMse(),
            new TrainerOptions { Epochs = 2, BatchSize = 10, LearningRate = 1e-2, Seed = 3, OutputDirectory = folder },
            new Dictionary<string, string> { ["model"] = "tiny" });
        trainer.Fit(train, valid, test);
        return Path.Combine(folder, Checkpoint.DefaultFileName);
    }

    [Fact]
    public void RoundTripsHeaderAndWeights()
    {
        string path = TrainedCheckpoint();
        var checkpoint = Checkpoint.Load(path);
        Assert.Equal(2, checkpoint.Header.CompletedEpochs);
        Assert.Equal(StopReason.Completed, checkpoint.Header.StopReason);
        Assert.Equal("tiny", checkpoint.Header.Metadata["model"]);
        Assert.Equal(typeof(TinyNodeModel).FullName, checkpoint.Header.ModelType);
        Assert.Equal(3, checkpoint.Header.Options.Seed);
        Assert.NotNull(checkpoint.OptimizerState);
        Assert.NotNull(checkpoint.BestModelState);

        // Best weights reproduce the recorded test metric.
        var model = Model(100);
        checkpoint.LoadInto(model, best: true, path);
        var (_, _, test) = Splits(train: 20, valid: 8, test: 8);
        double mse = Trainer.Evaluate(model, RegressionTask.NodeMse(), test, 10)["mse"];
        Assert.Equal(checkpoint.Header.TestAtBest!["mse"], mse, 12);
    }

    [Fact]
    public void AtomicWriteLeavesNoTemporaryFilesAndKeepsTheOldFileOnFailure()
    {
        string folder = TempFolder();
        string path = Path.Combine(folder, "file.bin");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("partial new content"u8);
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(folder));

        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(folder));
    }

    [Fact]
    public void TruncatedCheckpointGivesAClearErrorNamingTheFile()
    {
        string path = TrainedCheckpoint();
        var bytes = File.ReadAllBytes(path);
        foreach (int length in new[] { bytes.Length / 2, bytes.Length - 1, 20, 5 })
        {
            string cut = Path.Combine(Path.GetDirectoryName(path)!, $"cut{length}.ckpt");
            File.WriteAllBytes(cut, bytes.AsSpan(0, length).ToArray());
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(cut));
            Assert.Contains(cut, e.Message);
            Assert.Contains("truncated", e.Message);
        }
    }

    [Fact]
    public void CorruptedCheckpointGivesAClearErrorNamingTheFile()
    {
        string path = TrainedCheckpoint();
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        string bad = path + ".corrupt";
        File.WriteAllBytes(bad, bytes);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(bad));
        Assert.Contains(bad, e.Message);
        Assert.Contains("checksum", e.Message);

        string other = path + ".txt";
        File.WriteAllText(other, "this is not a checkpoint at all");
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(other));
        Assert.Contains("not an EquiSharp checkpoint", e.Message);

        e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path + ".missing"));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void ResumingIntoAnotherArchitectureOrTaskFailsClearly()
    {
        string path = TrainedCheckpoint();
        torch.manual_seed(1);
        var e = Assert.Throws<CheckpointException>(() => Trainer.Resume(path, new TinyNodeModel(width: 8), RegressionTask.NodeMse()));
        Assert.Contains(path, e.Message);
        Assert.Contains("do not fit", e.Message);
        e = Assert.Throws<CheckpointException>(() => Trainer.Resume(path, Model(1), RegressionTask.GraphL1()));
        Assert.Contains("task", e.Message);
    }
}
