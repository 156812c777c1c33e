using System.Globalization;
using System.Text.Json;
using EquiSharp.Graphs;
using EquiSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static EquiSharp.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Training;

public class TrainerTests : IDisposable
{
    public void Dispose() => DeleteTempFolders();

    private static TrainerOptions BaseOptions(string? output = null) => new()
    {
        Epochs = 6,
        BatchSize = 10, // 48 graphs: 4 full batches and one of 8
        LearningRate = 1e-2,
        WeightDecay = 1e-4,
        Schedule = LearningRateSchedule.Cosine,
        WarmupEpochs = 1,
        GradientClipNorm = 1.0,
        ValidateEvery = 2,
        Seed = 1234,
        OutputDirectory = output,
    };

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.AdamW)]
    public void ResumedRunEqualsUninterruptedRunExactly(OptimizerKind kind)
    {
        var (train, valid, test) = Splits();
        var options = BaseOptions() with { Optimizer = kind };

        // Uninterrupted.
        var straightModel = Model(7);
        using var straight = new Trainer(straightModel, RegressionTask.NodeMse(), options with { OutputDirectory = TempFolder() });
        var expected = straight.Fit(train, valid, test);
        Assert.Equal(StopReason.Completed, expected.StopReason);

        // Interrupted after epoch 3 (not a validation epoch), then resumed into a differently initialised model.
        string folder = TempFolder();
        using var cts = new CancellationTokenSource();
        using (var first = new Trainer(Model(7), RegressionTask.NodeMse(), options with { OutputDirectory = folder }))
        {
            first.EpochCompleted += r => { if (r.Epoch == 3) cts.Cancel(); };
            var partial = first.Fit(train, valid, test, cts.Token);
            Assert.Equal(StopReason.Cancelled, partial.StopReason);
            Assert.Equal(3, partial.CompletedEpochs);
        }
        Assert.Equal(StopReason.Cancelled, Checkpoint.Load(Path.Combine(folder, Checkpoint.DefaultFileName)).Header.StopReason);
        var resumedModel = Model(99);
        using var resumed = Trainer.Resume(Path.Combine(folder, Checkpoint.DefaultFileName), resumedModel, RegressionTask.NodeMse());
        Assert.Equal(3, resumed.CompletedEpochs);
        var actual = resumed.Fit(train, valid, test);

        Assert.Equal(StopReason.Completed, actual.StopReason);
        Assert.Equal(6, actual.CompletedEpochs);
        Assert.Equal(StopReason.Completed, Checkpoint.Load(Path.Combine(folder, Checkpoint.DefaultFileName)).Header.StopReason);
        var a = straightModel.parameters().ToArray();
        var b = resumedModel.parameters().ToArray();
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
            Assert.True((a[i] == b[i]).all().item<bool>(), $"parameter {i} differs after resume (max |Δ| = {(a[i] - b[i]).abs().max().item<float>()})");
        Assert.Equal(expected.History.Select(r => r.TrainLoss), actual.History.Select(r => r.TrainLoss));
        Assert.Equal(expected.History.Select(r => r.LearningRate), actual.History.Select(r => r.LearningRate));
        Assert.Equal(expected.BestEpoch, actual.BestEpoch);
        Assert.Equal(expected.TestAtBest!["mse"], actual.TestAtBest!["mse"]);
        Assert.Equal(expected.BestValidation!["mse"], actual.BestValidation!["mse"]);
    }

    [Fact]
    public void ShortRunReducesTheLossAndReportsTestAtBestValidation()
    {
        var (train, valid, test) = Splits();
        var model = Model(3, dropout: 0);
        using var trainer = new Trainer(model, RegressionTask.NodeMse(), BaseOptions() with { Epochs = 20, ValidateEvery = 1, Schedule = LearningRateSchedule.Constant });
        var initial = trainer.Evaluate(valid)["mse"];
        var result = trainer.Fit(train, valid, test);

        Assert.True(result.History[^1].TrainLoss < 0.2 * result.History[0].TrainLoss,
            $"train loss {result.History[0].TrainLoss} -> {result.History[^1].TrainLoss}");
        Assert.True(result.BestValidation!["mse"] < 0.2 * initial, $"validation MSE {initial} -> {result.BestValidation["mse"]}");
        // The reported test metric is that of the best validation epoch, evaluated with those weights.
        var bestRecord = result.History.Single(r => r.Epoch == result.BestEpoch);
        Assert.Equal(result.TestAtBest!["mse"], bestRecord.Test!["mse"]);
        Assert.Equal(result.BestValidation["mse"], result.History.Where(r => r.Validation is not null).Min(r => r.Validation!["mse"]));
        trainer.RestoreBestWeights();
        Assert.Equal(result.TestAtBest["mse"], trainer.Evaluate(test)["mse"], 12);
        Assert.True(model.training, "Evaluate must restore training mode");
    }

    [Fact]
    public void EarlyStoppingStopsAfterPatienceValidationsWithoutImprovement()
    {
        var (train, valid, _) = Splits();
        string folder = TempFolder();
        // Nothing after the first validation beats it by 1e9, so validations 2 and 3 (epochs 2, 3) use up patience 2.
        var options = BaseOptions(folder) with { Epochs = 50, ValidateEvery = 1, Patience = 2, MinImprovement = 1e9, Schedule = LearningRateSchedule.Constant };
        using var trainer = new Trainer(Model(5), RegressionTask.NodeMse(), options);
        var result = trainer.Fit(train, valid);
        Assert.Equal(StopReason.EarlyStopped, result.StopReason);
        Assert.Equal(3, result.CompletedEpochs);
        Assert.Equal(1, result.BestEpoch);
        Assert.Null(result.TestAtBest);

        // A finished run resumes to the same result without training.
        using var again = Trainer.Resume(Path.Combine(folder, Checkpoint.DefaultFileName), Model(5), RegressionTask.NodeMse());
        var repeat = again.Fit(train, valid);
        Assert.Equal(StopReason.EarlyStopped, repeat.StopReason);
        Assert.Equal(3, repeat.CompletedEpochs);
    }

    [Fact]
    public void ExtendingAFinishedConstantRunEqualsTheLongerRunExactly()
    {
        var (train, valid, test) = Splits();
        var options = BaseOptions() with { Schedule = LearningRateSchedule.Constant, EmaDecay = 0.9 };

        var straightModel = Model(7);
        using var straight = new Trainer(straightModel, RegressionTask.NodeMse(), options with { OutputDirectory = TempFolder() });
        var expected = straight.Fit(train, valid, test);

        string folder = TempFolder();
        using (var first = new Trainer(Model(7), RegressionTask.NodeMse(), options with { Epochs = 4, OutputDirectory = folder }))
            Assert.Equal(StopReason.Completed, first.Fit(train, valid, test).StopReason);
        string path = Path.Combine(folder, Checkpoint.DefaultFileName);
        var extendedModel = Model(99);
        using var extended = Trainer.Resume(path, extendedModel, RegressionTask.NodeMse(), changes: new ResumeChanges { Epochs = 6 });
        var actual = extended.Fit(train, valid, test);

        Assert.Equal(StopReason.Completed, actual.StopReason);
        Assert.Equal(6, actual.CompletedEpochs);
        Assert.Equal(6, Checkpoint.Load(path).Header.Options.Epochs);
        var a = straightModel.parameters().ToArray();
        var b = extendedModel.parameters().ToArray();
        for (int i = 0; i < a.Length; i++)
            Assert.True((a[i] == b[i]).all().item<bool>(), $"parameter {i} differs after extending the run");
        Assert.Equal(expected.History.Select(r => r.TrainLoss), actual.History.Select(r => r.TrainLoss));
        Assert.Equal(expected.TestAtBest!["mse"], actual.TestAtBest!["mse"]);

        // Without changes the finished run stays finished.
        using var again = Trainer.Resume(path, Model(5), RegressionTask.NodeMse());
        Assert.Equal(6, again.Fit(train, valid, test).CompletedEpochs);
    }

    [Fact]
    public void AConstantRunGivenACooldownWhenResumedEqualsARunPlannedWithItExactly()
    {
        var (train, valid, test) = Splits();
        var options = BaseOptions() with { Schedule = LearningRateSchedule.Constant, CooldownEpochs = 3, EmaDecay = 0.9 };

        var plannedModel = Model(7);
        using var planned = new Trainer(plannedModel, RegressionTask.NodeMse(), options with { OutputDirectory = TempFolder() });
        var expected = planned.Fit(train, valid, test);

        // Three epochs at a constant rate with no end in sight, then extended to six with the last three a cooldown.
        string folder = TempFolder();
        using (var first = new Trainer(Model(7), RegressionTask.NodeMse(), options with { Epochs = 3, CooldownEpochs = 0, OutputDirectory = folder }))
            first.Fit(train, valid, test);
        string path = Path.Combine(folder, Checkpoint.DefaultFileName);
        var cooledModel = Model(99);
        using (var cooled = Trainer.Resume(path, cooledModel, RegressionTask.NodeMse(), changes: new ResumeChanges { Epochs = 6, CooldownEpochs = 3 }))
        {
            var actual = cooled.Fit(train, valid, test);
            Assert.Equal(6, actual.CompletedEpochs);
            var a = plannedModel.parameters().ToArray();
            var b = cooledModel.parameters().ToArray();
            for (int i = 0; i < a.Length; i++)
                Assert.True((a[i] == b[i]).all().item<bool>(), $"parameter {i} differs after adding the cooldown");
            Assert.Equal(expected.History.Select(r => r.TrainLoss), actual.History.Select(r => r.TrainLoss));
            Assert.Equal(expected.History.Select(r => r.LearningRate), actual.History.Select(r => r.LearningRate));
            Assert.Equal(expected.TestAtBest!["mse"], actual.TestAtBest!["mse"]);
        }
        Assert.Equal(3, Checkpoint.Load(path).Header.Options.CooldownEpochs);

        // Once the cooldown has begun, the run's length and cooldown are fixed.
        var begun = Assert.Throws<ArgumentException>(() => Trainer.Resume(path, Model(5), RegressionTask.NodeMse(), changes: new ResumeChanges { Epochs = 8 }));
        Assert.Contains("cooldown began at epoch 4", begun.Message);
    }

    [Fact]
    public void ACooldownMustBeginAfterTheCompletedEpochs()
    {
        var constant = BaseOptions() with { Schedule = LearningRateSchedule.Constant, Epochs = 10 };
        // 4 of 10 epochs done: a cooldown of up to 6 epochs fits; 7 would re-rate epoch 4.
        Assert.Equal(6, new ResumeChanges { CooldownEpochs = 6 }.ApplyTo(constant, 4).CooldownEpochs);
        var early = Assert.Throws<ArgumentException>(() => new ResumeChanges { CooldownEpochs = 7 }.ApplyTo(constant, 4));
        Assert.Contains("would begin at epoch 4", early.Message);
        Assert.Contains("at most 6 cooldown epochs", early.Message);
        // A planned cooldown that has not begun may be moved or removed; one that has begun may not.
        var planned = constant with { CooldownEpochs = 3 };
        Assert.Equal(10, new ResumeChanges { Epochs = 13 }.ApplyTo(planned, 7).CooldownStart);
        Assert.Equal(0, new ResumeChanges { CooldownEpochs = 0 }.ApplyTo(planned, 7).CooldownEpochs);
        Assert.Throws<ArgumentException>(() => new ResumeChanges { CooldownEpochs = 2 }.ApplyTo(planned, 8));
        // A cosine run has no cooldown to change.
        var cosine = Assert.Throws<ArgumentException>(() => new ResumeChanges { CooldownEpochs = 2 }.ApplyTo(BaseOptions(), 1));
        Assert.Contains("constant rate", cosine.Message);
    }

    [Fact]
    public void AnEarlyStoppedRunTrainsOnWithMorePatienceOrNone()
    {
        var (train, valid, _) = Splits();
        string folder = TempFolder();
        var options = BaseOptions(folder) with { Epochs = 9, ValidateEvery = 1, Patience = 2, MinImprovement = 1e9, Schedule = LearningRateSchedule.Constant };
        using (var trainer = new Trainer(Model(5), RegressionTask.NodeMse(), options))
            Assert.Equal(3, trainer.Fit(train, valid).CompletedEpochs); // best at 1; validations 2 and 3 use up patience 2
        string path = Path.Combine(folder, Checkpoint.DefaultFileName);

        // The count of validations without improvement (2) is kept: patience 4 allows two more.
        using (var more = Trainer.Resume(path, Model(5), RegressionTask.NodeMse(), changes: new ResumeChanges { Patience = 4 }))
        {
            var result = more.Fit(train, valid);
            Assert.Equal(StopReason.EarlyStopped, result.StopReason);
            Assert.Equal(5, result.CompletedEpochs);
            Assert.Equal(1, result.BestEpoch);
        }
        // A patience the count already reaches changes nothing.
        using (var same = Trainer.Resume(path, Model(5), RegressionTask.NodeMse(), changes: new ResumeChanges { Patience = 3 }))
            Assert.Equal(5, same.Fit(train, valid).CompletedEpochs);
        using (var none = Trainer.Resume(path, Model(5), RegressionTask.NodeMse(), changes: new ResumeChanges { NoEarlyStopping = true }))
        {
            var result = none.Fit(train, valid);
            Assert.Equal(StopReason.Completed, result.StopReason);
            Assert.Equal(9, result.CompletedEpochs);
        }
        Assert.Null(Checkpoint.Load(path).Header.Options.Patience);
    }

    [Fact]
    public void ResumeChangesTheRunCannotTakeAreRejected()
    {
        var (train, valid, _) = Splits();
        string folder = TempFolder();
        using (var trainer = new Trainer(Model(5), RegressionTask.NodeMse(), BaseOptions(folder) with { Epochs = 4 }))
            trainer.Fit(train, valid);
        string path = Path.Combine(folder, Checkpoint.DefaultFileName);
        var cosine = Assert.Throws<ArgumentException>(() => Trainer.Resume(path, Model(5), RegressionTask.NodeMse(), changes: new ResumeChanges { Epochs = 8 }));
        Assert.Contains("cosine learning-rate schedule is laid out over its 4 epochs", cosine.Message);
        var shorter = Assert.Throws<ArgumentException>(() => new ResumeChanges { Epochs = 3 }.ApplyTo(BaseOptions() with { Schedule = LearningRateSchedule.Constant }, 4));
        Assert.Contains("cannot be shortened to 3", shorter.Message);
        Assert.Throws<ArgumentException>(() => new ResumeChanges { Patience = 2, NoEarlyStopping = true }.ApplyTo(BaseOptions(), 1));
        Assert.ThrowsAny<ArgumentException>(() => new ResumeChanges { Patience = 0 }.ApplyTo(BaseOptions(), 1));
        // The same number of epochs is no change, whatever the schedule.
        Assert.Equal(6, new ResumeChanges { Epochs = 6 }.ApplyTo(BaseOptions(), 2).Epochs);
    }

    [Fact]
    public void PatienceCountsValidationsNotEpochs()
    {
        var (train, valid, _) = Splits();
        var options = BaseOptions() with { Epochs = 50, ValidateEvery = 3, Patience = 2, MinImprovement = 1e9 };
        using var trainer = new Trainer(Model(5), RegressionTask.NodeMse(), options);
        var result = trainer.Fit(train, valid);
        Assert.Equal(StopReason.EarlyStopped, result.StopReason);
        Assert.Equal(9, result.CompletedEpochs); // validations at 3 (best), 6, 9
    }

    [Fact]
    public void GradientClippingBoundsTheTotalNorm()
    {
        torch.manual_seed(0);
        var layer = nn.Linear(5, 4);
        var input = torch.randn(8, 5) * 100;
        layer.forward(input).square().sum().backward();
        var parameters = layer.parameters().ToArray();
        double before = GradientClipping.TotalNorm(parameters);
        var direction = parameters.Select(p => p.grad!.clone() / before).ToArray();
        Assert.True(before > 10, $"test set-up: gradient norm {before} should exceed the bound");

        double reported = GradientClipping.ClipByTotalNorm(parameters, 0.5);
        Assert.True(Math.Abs(before - reported) < 1e-6 * before, $"reported pre-clip norm {reported}, computed {before}");
        Assert.Equal(0.5, GradientClipping.TotalNorm(parameters), 4);
        for (int i = 0; i < parameters.Length; i++)
            Assert.True(torch.allclose(parameters[i].grad! / 0.5, direction[i], rtol: 1e-4, atol: 1e-7), "clipping must only rescale");

        // Below the bound nothing changes.
        double small = GradientClipping.ClipByTotalNorm(parameters, 10);
        Assert.Equal(0.5, small, 4);
        Assert.Equal(0.5, GradientClipping.TotalNorm(parameters), 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByTotalNorm(parameters, 0));
    }

    [Fact]
    public void TrainerClipsBeforeTheOptimiserStep()
    {
        // One step of Adam: exp_avg = (1 − β1) g, so its norm shows the gradient the optimiser received.
        var (train, valid, _) = Splits(train: 10);
        var options = BaseOptions() with { Epochs = 1, BatchSize = 10, GradientClipNorm = 1e-3, WeightDecay = 0, Schedule = LearningRateSchedule.Constant, WarmupEpochs = 0 };
        var model = Model(11, dropout: 0);
        using var trainer = new Trainer(model, RegressionTask.NodeMse(), options);
        var result = trainer.Fit(train, valid);
        double preClip = result.History[0].GradientNorm!.Value;
        Assert.True(preClip > 1e-1, $"test set-up: the raw gradient norm {preClip} should exceed the bound by far");

        var states = ((OptimizerHelper)trainer.Optimizer).state_dict().State.Cast<Adam.State>().ToArray();
        double sum = states.Sum(s => s.exp_avg.to_type(ScalarType.Float64).square().sum().item<double>());
        Assert.Equal((1 - options.Beta1) * 1e-3, Math.Sqrt(sum), 7);
        Assert.All(states, s => Assert.Equal(1, s.step));
    }

    [Fact]
    public void RecordedLearningRatesFollowTheSchedule()
    {
        var (train, valid, _) = Splits();
        var options = BaseOptions() with { Epochs = 5, WarmupEpochs = 2, ScheduleGranularity = ScheduleGranularity.Step, MinLearningRate = 1e-4 };
        using var trainer = new Trainer(Model(1), RegressionTask.NodeMse(), options);
        var steps = new List<(int Epoch, int Step)>();
        trainer.StepCompleted += s => steps.Add((s.Epoch, s.Step));
        var result = trainer.Fit(train, valid);
        Assert.Equal(5 * 5, steps.Count); // 48 graphs in batches of 10: 5 steps per epoch
        for (int e = 0; e < 5; e++)
            Assert.Equal(LearningRateSchedules.At(options, e, 4, 5), result.History[e].LearningRate);
    }

    [Fact]
    public void WritesOnlyFinishedFilesAndConsistentCsvAndJson()
    {
        var (train, valid, test) = Splits();
        string folder = TempFolder();
        using var trainer = new Trainer(Model(2), RegressionTask.NodeMse(), BaseOptions(folder) with { Epochs = 4 },
            new Dictionary<string, string> { ["model"] = "tiny" });
        var result = trainer.Fit(train, valid, test);

        Assert.Equal(new[] { "checkpoint.ckpt", "metrics.csv", "metrics.json" },
            Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());

        var lines = File.ReadAllLines(Path.Combine(folder, "metrics.csv"));
        Assert.Equal("epoch,lr,train_loss,grad_norm,valid_mse,valid_mae,test_mse,test_mae,best_valid,seconds", lines[0]);
        Assert.Equal(5, lines.Length);
        for (int e = 1; e <= 4; e++)
        {
            var cells = lines[e].Split(',');
            var record = result.History[e - 1];
            Assert.Equal(e.ToString(CultureInfo.InvariantCulture), cells[0]);
            Assert.Equal(record.LearningRate, double.Parse(cells[1], CultureInfo.InvariantCulture));
            Assert.Equal(record.TrainLoss, double.Parse(cells[2], CultureInfo.InvariantCulture));
            Assert.Equal(record.GradientNorm!.Value, double.Parse(cells[3], CultureInfo.InvariantCulture));
            if (e % 2 == 1)
                Assert.Equal("", cells[4]); // validated every 2 epochs
            else
                Assert.Equal(record.Validation!["mse"], double.Parse(cells[4], CultureInfo.InvariantCulture));
        }

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")));
        var root = json.RootElement;
        Assert.Equal("node-mse", root.GetProperty("Task").GetString());
        Assert.Equal(4, root.GetProperty("CompletedEpochs").GetInt32());
        Assert.Equal("Completed", root.GetProperty("StopReason").GetString());
        Assert.Equal(result.BestEpoch, root.GetProperty("BestEpoch").GetInt32());
        Assert.Equal(result.TestAtBest!["mse"], root.GetProperty("TestAtBest").GetProperty("mse").GetDouble());
        Assert.Equal(4, root.GetProperty("Epochs").GetArrayLength());
        Assert.Equal("tiny", root.GetProperty("Metadata").GetProperty("model").GetString());
        Assert.Equal(1234, root.GetProperty("Options").GetProperty("Seed").GetInt64());
        Assert.Equal("Cosine", root.GetProperty("Options").GetProperty("Schedule").GetString());
    }

    [Fact]
    public void LiveTensorCountStaysFlatAcrossEpochs()
    {
        var (train, valid, test) = Splits();
        using var trainer = new Trainer(Model(6), RegressionTask.NodeMse(), BaseOptions() with { Epochs = 8, ValidateEvery = 2, MinImprovement = 0 });
        var live = new Dictionary<int, long>();
        trainer.EpochCompleted += r => live[r.Epoch] = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        trainer.Fit(train, valid, test);
        // Same phase of the cycle (validated epochs; odd epochs): no tensor may leak per step or per evaluation.
        Assert.Equal(live[4], live[8]);
        Assert.Equal(live[3], live[7]);
    }

    /// <summary>Predicts forces −dE/dx of a learned energy E = Σ w (|x|² summed per node): needs autograd even in evaluation.</summary>
    private sealed class ForceModel : nn.Module<GraphBatch, Tensor>
    {
        private readonly Parameter weight = new(torch.zeros(1));

        public ForceModel() : base(nameof(ForceModel)) => RegisterComponents();

        public override Tensor forward(GraphBatch batch)
        {
            var x = batch.Positions.detach().requires_grad_(true);
            var energy = (weight * x.square()).sum();
            return -torch.autograd.grad(new[] { energy }, new[] { x }, create_graph: training)[0];
        }
    }

    private sealed class ForceTask : ITrainingTask
    {
        private readonly RegressionTask inner = RegressionTask.NodeMse();
        public string Name => "forces";
        public IReadOnlyList<string> MetricNames => inner.MetricNames;
        public string SelectionMetric => "mse";
        public Tensor Loss(Tensor prediction, GraphBatch batch) => inner.Loss(prediction, batch);
        public void Accumulate(Tensor prediction, GraphBatch batch, MetricAccumulator metrics) => inner.Accumulate(prediction, batch, metrics);
        public bool EvaluateWithGradients => true;
    }

    [Fact]
    public void TasksCanEvaluateWithGradientsForForceModels()
    {
        // Target forces of E = 0.5 Σ|x|²: F = −x.
        var graphs = TrainingFixtures.Graphs(30, 8).Select(g => g with { NodeTarget = -g.Positions }).ToList();
        using var trainer = new Trainer(new ForceModel(), new ForceTask(), new TrainerOptions { Epochs = 40, BatchSize = 10, LearningRate = 0.05, Seed = 1 });
        var result = trainer.Fit(graphs.Take(20).ToList(), graphs.Skip(20).ToList());
        Assert.True(result.BestValidation!["mse"] < 1e-3, $"validation MSE {result.BestValidation["mse"]}");
        trainer.RestoreBestWeights();
        Assert.Equal(result.BestValidation["mse"], trainer.Evaluate(graphs.Skip(20).ToList())["mse"], 12);
        // (Under no_grad this model cannot predict: TorchSharp 0.107's autograd.grad then aborts the process
        // with an uncaught c10::Error instead of throwing, so that case cannot be asserted here.)
    }

    [Fact]
    public void RejectsBadInputsWithNamedErrors()
    {
        var (train, valid, _) = Splits(train: 5, valid: 2, test: 1);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Model(1), RegressionTask.NodeMse(), new TrainerOptions { LearningRate = -1 }));
        Assert.Contains("LearningRate", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Trainer(Model(1), RegressionTask.NodeMse(), new TrainerOptions { Epochs = 5, WarmupEpochs = 5 }));
        Assert.Contains("WarmupEpochs", e.Message);
        using var trainer = new Trainer(Model(1), RegressionTask.NodeMse(), new TrainerOptions { Epochs = 1 });
        Assert.Throws<ArgumentException>(() => trainer.Fit([], valid));
        var graphTask = RegressionTask.GraphL1();
        using var wrongTask = new Trainer(Model(1), graphTask, new TrainerOptions { Epochs = 1 });
        var g = Assert.Throws<GraphValidationException>(() => wrongTask.Fit(train, valid));
        Assert.Contains("GraphTarget", g.Message);
    }
}
