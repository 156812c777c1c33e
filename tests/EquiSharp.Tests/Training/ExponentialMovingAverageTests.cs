using EquiSharp.Training;
using TorchSharp;
using Xunit;
using static EquiSharp.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Training;

public class ExponentialMovingAverageTests : IDisposable
{
    public void Dispose() => DeleteTempFolders();

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

    [Fact]
    public void UpdateFollowsTheWarmedUpRecurrenceAndSwapExchangesWeights()
    {
        using var layer = nn.Linear(3, 2, dtype: ScalarType.Float64);
        var parameters = layer.parameters().ToArray();
        using var average = new ExponentialMovingAverage(layer, 0.5);
        var expected = parameters.Select(p => p.detach().clone()).ToArray();
        for (int t = 0; t < 6; t++)
        {
            using (torch.no_grad())
                foreach (var p in parameters) p.add_(torch.randn(p.shape, dtype: ScalarType.Float64));
            double d = Math.Min(0.5, (1.0 + t) / (10.0 + t)); // 0.1, 0.18, 0.25, ... then capped at 0.5
            Assert.Equal(d, average.NextDecay, 15);
            average.Update();
            for (int i = 0; i < parameters.Length; i++) expected[i] = d * expected[i] + (1 - d) * parameters[i].detach();
        }
        Assert.Equal(6, average.Updates);
        for (int i = 0; i < parameters.Length; i++)
            Assert.True(torch.allclose(average.Shadows[i], expected[i], rtol: 0, atol: 1e-14), $"shadow {i}");

        var raw = Weights(layer);
        average.Swap();
        for (int i = 0; i < parameters.Length; i++)
        {
            Assert.True(torch.allclose(parameters[i], expected[i], rtol: 0, atol: 1e-14), $"parameter {i} after the swap");
            Assert.True(Same(average.Shadows[i], raw[i]));
        }
        average.Swap();
        for (int i = 0; i < parameters.Length; i++) Assert.True(Same(parameters[i], raw[i]));
    }

    [Fact]
    public void DecayOutsideTheOpenUnitIntervalIsRejected()
    {
        using var layer = nn.Linear(2, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialMovingAverage(layer, 1.0));
        var e = Assert.Throws<ArgumentException>(() => new TrainerOptions { EmaDecay = 0 }.Validate());
        Assert.Contains("EmaDecay", e.Message);
    }

    private static TrainerOptions Options(string? output = null) => new()
    {
        Epochs = 5,
        BatchSize = 10,
        LearningRate = 1e-2,
        Schedule = LearningRateSchedule.Constant,
        ValidateEvery = 1,
        Seed = 77,
        EmaDecay = 0.9,
        OutputDirectory = output,
    };

    [Fact]
    public void TheTrainerValidatesTestsAndKeepsTheAveragedWeights()
    {
        var (train, valid, test) = Splits();
        var model = Model(4, dropout: 0);
        using var trainer = new Trainer(model, RegressionTask.NodeMse(), Options() with { Epochs = 1 });
        var result = trainer.Fit(train, valid, test);
        Assert.Equal(1, result.BestEpoch);
        Assert.Equal(5, trainer.Average!.Updates); // 48 graphs in batches of 10

        var raw = Weights(model);
        var shadows = trainer.Average.Shadows.Select(s => s.clone()).ToArray();
        Assert.Contains(Enumerable.Range(0, raw.Length), i => !Same(raw[i], shadows[i]));
        // Training continues from the raw weights; the reported metrics are those of the average.
        Assert.Equal(result.BestValidation!["mse"], Swapped(trainer, () => trainer.Evaluate(valid)["mse"]), 15);
        trainer.RestoreBestWeights();
        var best = Weights(model);
        for (int i = 0; i < best.Length; i++) Assert.True(Same(best[i], shadows[i]), $"best parameter {i} is not the average");
        Assert.Equal(result.TestAtBest!["mse"], trainer.Evaluate(test)["mse"], 12);
    }

    // Evaluates with the averaged weights swapped in, and returns the value (the helper keeps the assertion above readable).
    private static double Swapped(Trainer trainer, Func<double> evaluate)
    {
        trainer.Average!.Swap();
        try { return evaluate(); }
        finally { trainer.Average.Swap(); }
    }

    [Fact]
    public void AResumedRunContinuesTheAverageExactly()
    {
        var (train, valid, test) = Splits();
        var straightModel = Model(7);
        using var straight = new Trainer(straightModel, RegressionTask.NodeMse(), Options(TempFolder()));
        var expected = straight.Fit(train, valid, test);

        string folder = TempFolder();
        using var cts = new CancellationTokenSource();
        using (var first = new Trainer(Model(7), RegressionTask.NodeMse(), Options(folder)))
        {
            first.EpochCompleted += r => { if (r.Epoch == 2) cts.Cancel(); };
            first.Fit(train, valid, test, cts.Token);
        }
        using var resumed = Trainer.Resume(Path.Combine(folder, Checkpoint.DefaultFileName), Model(99), RegressionTask.NodeMse());
        Assert.Equal(10, resumed.Average!.Updates);
        var actual = resumed.Fit(train, valid, test);

        Assert.Equal(expected.TestAtBest!["mse"], actual.TestAtBest!["mse"]);
        Assert.Equal(expected.BestValidation!["mse"], actual.BestValidation!["mse"]);
        Assert.Equal(straight.Average!.Updates, resumed.Average.Updates);
        for (int i = 0; i < straight.Average.Shadows.Count; i++)
            Assert.True(Same(straight.Average.Shadows[i], resumed.Average.Shadows[i]), $"EMA tensor {i} differs after resume");
    }

    [Fact]
    public void ResumingAnAveragedRunWithoutItsAverageIsAClearError()
    {
        var (train, valid, _) = Splits();
        string folder = TempFolder();
        string path = Path.Combine(folder, Checkpoint.DefaultFileName);
        using (var trainer = new Trainer(Model(2), RegressionTask.NodeMse(), Options(folder) with { Epochs = 1 }))
            trainer.Fit(train, valid);
        var saved = Checkpoint.Load(path);
        Assert.NotNull(saved.EmaState);
        new Checkpoint(saved.Header, saved.ModelState, saved.BestModelState, saved.OptimizerState).Save(path);
        var e = Assert.Throws<CheckpointException>(() => Trainer.Resume(path, Model(2), RegressionTask.NodeMse()));
        Assert.Contains("EMA", e.Message);
        Assert.Contains(path, e.Message);
    }
}
