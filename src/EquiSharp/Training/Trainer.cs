using System.Diagnostics;
using System.Text;
using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Training;

/// <summary>Progress of one optimiser step, raised by <see cref="Trainer.StepCompleted"/>.</summary>
/// <param name="Epoch">One-based epoch.</param>
/// <param name="Step">One-based step within the epoch.</param>
/// <param name="StepsPerEpoch">Steps per epoch.</param>
/// <param name="Loss">The batch loss.</param>
public readonly record struct StepProgress(int Epoch, int Step, int StepsPerEpoch, double Loss);

/// <summary>What <c>Trainer.Fit</c> returns.</summary>
public sealed record TrainingResult
{
    /// <summary>Why training stopped.</summary>
    public required StopReason StopReason { get; init; }

    /// <summary>Epochs completed in total (including epochs before a resume).</summary>
    public required int CompletedEpochs { get; init; }

    /// <summary>Epoch with the best validation value of the selection metric (null if never validated).</summary>
    public int? BestEpoch { get; init; }

    /// <summary>Validation metrics at <see cref="BestEpoch"/>.</summary>
    public IReadOnlyDictionary<string, double>? BestValidation { get; init; }

    /// <summary>Test metrics of the best-validation weights: the number to report (null without a test set).</summary>
    public IReadOnlyDictionary<string, double>? TestAtBest { get; init; }

    /// <summary>Per-epoch history.</summary>
    public required IReadOnlyList<EpochRecord> History { get; init; }

    /// <summary>Path of the last checkpoint written (null without an output folder).</summary>
    public string? CheckpointPath { get; init; }
}

/// <summary>
/// Trains any <c>nn.Module&lt;GraphBatch, Tensor&gt;</c> on lists of <see cref="GeometricGraph"/> for an
/// <see cref="ITrainingTask"/>: Adam/AdamW, constant or cosine schedule with linear warm-up, gradient-norm
/// clipping, validation every k epochs, test metrics at the best validation epoch, early stopping,
/// atomic checkpoints and metric files, and exact resumption.
/// </summary>
/// <remarks>
/// <para><b>Reproducibility.</b> Epoch e (one-based) shuffles the training set with
/// <see cref="Seeding.Permutation"/> seeded by <see cref="Seeding.EpochSeed"/>(Seed, e) and calls
/// <c>torch.manual_seed</c> with the same seed before its first step, so stochastic layers (dropout,
/// augmentation through libtorch's generator) are reproducible too. Nothing depends on the history of
/// the process, which is why a run resumed from a checkpoint at an epoch boundary produces bit-identical
/// weights to an uninterrupted one on the same machine and thread count. Initialise the model after
/// your own <c>torch.manual_seed</c> call.</para>
/// <para><b>Resumption</b> restores the model weights, the optimiser state (step counts and both Adam
/// moment estimates via TorchSharp's <c>save_state_dict</c>), the best weights and metrics, the
/// early-stopping counter, the weight average (<see cref="TrainerOptions.EmaDecay"/>), the history, the options and the caller metadata. The learning rate is
/// recomputed from the schedule at every step and needs no state.</para>
/// <para><b>Memory.</b> Every step and every evaluation batch runs in its own dispose scope;
/// evaluation runs in <c>eval()</c> mode under <c>no_grad</c>.</para>
/// </remarks>
public sealed class Trainer : IDisposable
{
    private readonly OptimizerHelper optimizer;
    private readonly ExponentialMovingAverage? ema;
    private readonly List<EpochRecord> history = [];
    private readonly Dictionary<string, string> metadata;
    private byte[]? bestState;
    private int validationsSinceImprovement;
    private StopReason? finished;

    /// <summary>Creates a trainer for a freshly initialised model.</summary>
    /// <param name="model">The model; its parameters are optimised in place.</param>
    /// <param name="task">Loss and metrics.</param>
    /// <param name="options">Hyper-parameters (validated here).</param>
    /// <param name="metadata">Free-form strings stored in checkpoints and metrics.json (e.g. model name, data set).</param>
    public Trainer(nn.Module<GraphBatch, Tensor> model, ITrainingTask task, TrainerOptions options,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Task = task ?? throw new ArgumentNullException(nameof(task));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        if (!task.MetricNames.Contains(task.SelectionMetric))
            throw new ArgumentException($"The task's selection metric '{task.SelectionMetric}' is not among its metrics ({string.Join(", ", task.MetricNames)}).", nameof(task));
        this.metadata = metadata is null ? new(StringComparer.Ordinal) : new(metadata, StringComparer.Ordinal);
        var parameters = model.parameters().ToArray();
        if (parameters.Length == 0)
            throw new ArgumentException($"The model {model.GetType().Name} has no parameters to train.", nameof(model));
        optimizer = options.Optimizer switch
        {
            OptimizerKind.Adam => new FusedOptimizers.Adam(parameters, lr: options.LearningRate, beta1: options.Beta1, beta2: options.Beta2,
                eps: options.Epsilon, weight_decay: options.WeightDecay),
            OptimizerKind.AdamW => new FusedOptimizers.AdamW(parameters, lr: options.LearningRate, beta1: options.Beta1, beta2: options.Beta2,
                eps: options.Epsilon, weight_decay: options.WeightDecay),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "Unknown optimiser."),
        };
        if (options.EmaDecay is double decay) ema = new ExponentialMovingAverage(model, decay);
    }

    /// <summary>
    /// Continues the run saved in <paramref name="checkpointPath"/>. <paramref name="model"/> must have the
    /// architecture of the saved one (build it from <see cref="CheckpointHeader.Metadata"/>); its weights are replaced.
    /// </summary>
    /// <param name="checkpointPath">The checkpoint file.</param>
    /// <param name="model">A model of the saved architecture.</param>
    /// <param name="task">The task of the run (its name must match).</param>
    /// <param name="outputDirectory">Where to write from now on (default: the recorded <see cref="TrainerOptions.OutputDirectory"/>); does not affect the result.</param>
    /// <param name="changes">More epochs or another patience (<see cref="ResumeChanges"/>); null or empty continues the run as recorded.</param>
    /// <exception cref="CheckpointException">If the file is unreadable or does not fit the model.</exception>
    /// <exception cref="ArgumentException">If the run cannot take <paramref name="changes"/>.</exception>
    public static Trainer Resume(string checkpointPath, nn.Module<GraphBatch, Tensor> model, ITrainingTask task, string? outputDirectory = null,
        ResumeChanges? changes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        var checkpoint = Checkpoint.Load(checkpointPath);
        var header = checkpoint.Header;
        if (header.Task != task.Name)
            throw new CheckpointException(checkpointPath, $"was written for task '{header.Task}', not '{task.Name}'.");
        var options = outputDirectory is null ? header.Options : header.Options with { OutputDirectory = outputDirectory };
        if (changes is not null) options = changes.ApplyTo(options, header.CompletedEpochs);
        var trainer = new Trainer(model, task, options, header.Metadata);
        checkpoint.LoadInto(model, best: false, checkpointPath);
        if (checkpoint.OptimizerState is null)
            throw new CheckpointException(checkpointPath, "holds no optimiser state; it cannot be resumed exactly.");
        try
        {
            using var reader = new BinaryReader(new MemoryStream(checkpoint.OptimizerState, writable: false));
            trainer.optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw new CheckpointException(checkpointPath, $"the optimiser state does not fit this model: {e.Message}", e);
        }
        if (trainer.ema is not null)
        {
            if (checkpoint.EmaState is null || header.EmaUpdates is not long updates)
                throw new CheckpointException(checkpointPath, "the run averages its weights (EmaDecay) but the file holds no EMA state.");
            try
            {
                trainer.ema.Restore(model, checkpoint.EmaState, updates);
            }
            catch (Exception e) when (e is not CheckpointException)
            {
                throw new CheckpointException(checkpointPath, $"the EMA state does not fit this model: {e.Message}", e);
            }
        }
        trainer.history.AddRange(header.History);
        trainer.CompletedEpochs = header.CompletedEpochs;
        trainer.BestEpoch = header.BestEpoch;
        trainer.BestValidation = header.BestValidation;
        trainer.TestAtBest = header.TestAtBest;
        trainer.validationsSinceImprovement = header.ValidationsSinceImprovement;
        trainer.bestState = checkpoint.BestModelState;
        trainer.finished = header.StopReason;
        // A finished run that the changes give more to do (more epochs, or a patience not yet used up) trains on.
        bool epochsLeft = trainer.CompletedEpochs < options.Epochs;
        if (trainer.finished is StopReason.Completed && epochsLeft) trainer.finished = null;
        if (trainer.finished is StopReason.EarlyStopped && epochsLeft && !(options.Patience is int p && trainer.validationsSinceImprovement >= p))
            trainer.finished = null;
        return trainer;
    }

    /// <summary>The model being trained.</summary>
    public nn.Module<GraphBatch, Tensor> Model { get; }

    /// <summary>Loss and metrics.</summary>
    public ITrainingTask Task { get; }

    /// <summary>The run's options.</summary>
    public TrainerOptions Options { get; }

    /// <summary>The moving average of the weights (null unless <see cref="TrainerOptions.EmaDecay"/> is set).</summary>
    public ExponentialMovingAverage? Average => ema;

    /// <summary>The optimiser (<see cref="FusedOptimizers.Adam"/> or <see cref="FusedOptimizers.AdamW"/>: TorchSharp's Adam/AdamW with a one-pass update on CPU).</summary>
    public torch.optim.Optimizer Optimizer => optimizer;

    /// <summary>Caller metadata stored with checkpoints.</summary>
    public IReadOnlyDictionary<string, string> Metadata => metadata;

    /// <summary>Epochs completed so far.</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>Best validation epoch so far.</summary>
    public int? BestEpoch { get; private set; }

    /// <summary>Validation metrics at <see cref="BestEpoch"/>.</summary>
    public IReadOnlyDictionary<string, double>? BestValidation { get; private set; }

    /// <summary>Test metrics at <see cref="BestEpoch"/>.</summary>
    public IReadOnlyDictionary<string, double>? TestAtBest { get; private set; }

    /// <summary>History of completed epochs.</summary>
    public IReadOnlyList<EpochRecord> History => history;

    /// <summary>Path of the checkpoint in <see cref="TrainerOptions.OutputDirectory"/> (null without one).</summary>
    public string? CheckpointPath => Options.OutputDirectory is null ? null : Path.Combine(Options.OutputDirectory, Checkpoint.DefaultFileName);

    /// <summary>Raised after every epoch (on the training thread).</summary>
    public event Action<EpochRecord>? EpochCompleted;

    /// <summary>Raised after every optimiser step (on the training thread).</summary>
    public event Action<StepProgress>? StepCompleted;

    /// <summary>
    /// Trains until <see cref="TrainerOptions.Epochs"/>, early stopping or cancellation (checked between
    /// epochs; the checkpoint then written resumes exactly). Validates every
    /// <see cref="TrainerOptions.ValidateEvery"/> epochs and after the last; whenever the selection metric
    /// improves, the weights are kept and the test set (if any) is evaluated with them.
    /// </summary>
    public TrainingResult Fit(IReadOnlyList<GeometricGraph> train, IReadOnlyList<GeometricGraph> validation,
        IReadOnlyList<GeometricGraph>? test = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        return Fit(new GraphListSource(train), new GraphListSource(validation), test is null ? null : new GraphListSource(test), cancellationToken);
    }

    /// <summary><see cref="Fit(IReadOnlyList{GeometricGraph}, IReadOnlyList{GeometricGraph}, IReadOnlyList{GeometricGraph}?, CancellationToken)"/> on batch sources.</summary>
    public TrainingResult Fit(IBatchSource train, IBatchSource validation, IBatchSource? test = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (train.Count == 0) throw new ArgumentException("The training set is empty.", nameof(train));
        if (validation.Count == 0) throw new ArgumentException("The validation set is empty.", nameof(validation));
        if (test is { Count: 0 }) throw new ArgumentException("The test set is empty (pass null for none).", nameof(test));
        if (Options.DropLast && train.Count < Options.BatchSize)
            throw new ArgumentException($"DropLast with BatchSize {Options.BatchSize} leaves no batch from {train.Count} training graphs.", nameof(train));
        if (finished is StopReason done and not StopReason.Cancelled)
            return Result(done);
        finished = null;

        int stepsPerEpoch = Options.DropLast ? train.Count / Options.BatchSize : (train.Count + Options.BatchSize - 1) / Options.BatchSize;
        var parameters = Model.parameters().ToArray();
        StopReason reason = StopReason.Completed;
        while (CompletedEpochs < Options.Epochs)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                reason = StopReason.Cancelled;
                break;
            }
            int epoch = CompletedEpochs + 1;
            var clock = Stopwatch.StartNew();
            var (trainLoss, lr, gradNorm) = TrainEpoch(train, epoch, stepsPerEpoch, parameters);
            CompletedEpochs = epoch;

            IReadOnlyDictionary<string, double>? valid = null, testMetrics = null;
            bool stop = false;
            if (epoch % Options.ValidateEvery == 0 || epoch == Options.Epochs)
                (valid, testMetrics, stop) = ValidateAndTest(validation, test, epoch);

            var record = new EpochRecord
            {
                Epoch = epoch,
                LearningRate = lr,
                TrainLoss = trainLoss,
                GradientNorm = gradNorm,
                Validation = valid,
                Test = testMetrics,
                BestValidation = BestValidation?[Task.SelectionMetric],
                Seconds = clock.Elapsed.TotalSeconds,
            };
            history.Add(record);
            if (stop) reason = StopReason.EarlyStopped;
            if (stop || epoch == Options.Epochs) finished = reason;
            if (valid is not null || stop || epoch == Options.Epochs)
                WriteOutputs();
            EpochCompleted?.Invoke(record);
            if (stop) break;
        }

        if (reason == StopReason.Cancelled)
        {
            finished = StopReason.Cancelled;
            WriteOutputs();
        }
        return Result(reason);
    }

    /// <summary>
    /// Validates (with the averaged weights when <see cref="TrainerOptions.EmaDecay"/> is set), keeps the
    /// weights and tests them when the selection metric improves, and updates the early-stopping counter.
    /// </summary>
    private (IReadOnlyDictionary<string, double> Valid, IReadOnlyDictionary<string, double>? Test, bool Stop) ValidateAndTest(
        IBatchSource validation, IBatchSource? test, int epoch)
    {
        ema?.Swap();
        try
        {
            var valid = Evaluate(validation);
            double value = valid[Task.SelectionMetric];
            if (double.IsNaN(value))
                throw new InvalidOperationException($"Epoch {epoch}: validation {Task.SelectionMetric} is NaN; training diverged.");
            double best = BestValidation?[Task.SelectionMetric] ?? double.PositiveInfinity;
            if (!(value < best - Options.MinImprovement))
            {
                validationsSinceImprovement++;
                return (valid, null, Options.Patience is int patience && validationsSinceImprovement >= patience);
            }
            BestEpoch = epoch;
            BestValidation = valid;
            bestState = Checkpoint.SerializeModule(Model);
            validationsSinceImprovement = 0;
            IReadOnlyDictionary<string, double>? testMetrics = null;
            if (test is not null)
                TestAtBest = testMetrics = Evaluate(test);
            return (valid, testMetrics, false);
        }
        finally
        {
            ema?.Swap();
        }
    }

    private (double Loss, double LearningRate, double? GradientNorm) TrainEpoch(IBatchSource train, int epoch,
        int stepsPerEpoch, Parameter[] parameters)
    {
        long seed = Seeding.EpochSeed(Options.Seed, epoch);
        torch.manual_seed(seed);
        var order = Options.Shuffle ? Seeding.Permutation(train.Count, seed) : Enumerable.Range(0, train.Count).ToArray();
        Model.train();
        double lossSum = 0, weightSum = 0, normSum = 0, lr = 0;
        for (int step = 0; step < stepsPerEpoch; step++)
        {
            using var scope = torch.NewDisposeScope();
            lr = LearningRateSchedules.At(Options, epoch - 1, step, stepsPerEpoch);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            int start = step * Options.BatchSize, count = Math.Min(Options.BatchSize, train.Count - start);
            using var batch = train.CreateBatch(new ArraySegment<int>(order, start, count));

            optimizer.zero_grad();
            var prediction = Model.forward(batch);
            var loss = Task.Loss(prediction, batch);
            if (loss.numel() != 1)
                throw new InvalidOperationException($"Task '{Task.Name}' returned a loss of shape {GraphValidation.Shape(loss)}; it must be a scalar.");
            double value = loss.to_type(ScalarType.Float64).item<double>();
            if (!double.IsFinite(value))
                throw new InvalidOperationException($"Epoch {epoch}, step {step + 1}: the training loss is {value}; training diverged (lower the learning rate or clip gradients).");
            loss.backward();
            if (Options.GradientClipNorm is double maxNorm)
                normSum += GradientClipping.ClipByTotalNorm(parameters, maxNorm);
            optimizer.step();
            ema?.Update();

            long weight = Math.Max(1, prediction.numel());
            lossSum += value * weight;
            weightSum += weight;
            StepCompleted?.Invoke(new StepProgress(epoch, step + 1, stepsPerEpoch, value));
        }
        return (lossSum / weightSum, lr, Options.GradientClipNorm is null ? null : normSum / stepsPerEpoch);
    }

    /// <summary>
    /// The task's metrics over <paramref name="graphs"/> with the current weights, in eval mode under
    /// no_grad, in batches of <see cref="TrainerOptions.BatchSize"/> (or <paramref name="batchSize"/>).
    /// The model's training/eval mode is restored afterwards.
    /// </summary>
    public IReadOnlyDictionary<string, double> Evaluate(IReadOnlyList<GeometricGraph> graphs, int? batchSize = null) =>
        Evaluate(Model, Task, new GraphListSource(graphs ?? throw new ArgumentNullException(nameof(graphs))), batchSize ?? Options.BatchSize);

    /// <summary>The task's metrics over a batch source with the current weights (see the list overload).</summary>
    public IReadOnlyDictionary<string, double> Evaluate(IBatchSource graphs, int? batchSize = null) =>
        Evaluate(Model, Task, graphs, batchSize ?? Options.BatchSize);

    /// <summary>Evaluates any model on <paramref name="graphs"/> for <paramref name="task"/> (eval mode, no_grad).</summary>
    public static IReadOnlyDictionary<string, double> Evaluate(nn.Module<GraphBatch, Tensor> model, ITrainingTask task,
        IReadOnlyList<GeometricGraph> graphs, int batchSize) =>
        Evaluate(model, task, new GraphListSource(graphs ?? throw new ArgumentNullException(nameof(graphs))), batchSize);

    /// <summary>Evaluates any model on a batch source for <paramref name="task"/> (eval mode, no_grad, in index order).</summary>
    public static IReadOnlyDictionary<string, double> Evaluate(nn.Module<GraphBatch, Tensor> model, ITrainingTask task,
        IBatchSource graphs, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(graphs);
        if (graphs.Count == 0) throw new ArgumentException("Cannot evaluate on an empty set of graphs.", nameof(graphs));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var gradMode = task.EvaluateWithGradients ? torch.enable_grad() : torch.no_grad();
            var metrics = new MetricAccumulator();
            var all = Enumerable.Range(0, graphs.Count).ToArray();
            for (int start = 0; start < graphs.Count; start += batchSize)
            {
                using var scope = torch.NewDisposeScope();
                using var batch = graphs.CreateBatch(new ArraySegment<int>(all, start, Math.Min(batchSize, graphs.Count - start)));
                task.Accumulate(model.forward(batch), batch, metrics);
            }
            var means = metrics.Means();
            foreach (var name in task.MetricNames)
                if (!means.ContainsKey(name))
                    throw new InvalidOperationException($"Task '{task.Name}' did not report its metric '{name}'.");
            return means;
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>Loads the best-validation weights into <see cref="Model"/> (no-op before the first validation).</summary>
    public void RestoreBestWeights()
    {
        if (bestState is not null) Checkpoint.DeserializeModule(Model, bestState);
    }

    /// <summary>The current state as a checkpoint object.</summary>
    public Checkpoint CreateCheckpoint()
    {
        byte[] optimizerState;
        using (var memory = new MemoryStream())
        {
            using (var writer = new BinaryWriter(memory, Encoding.UTF8, leaveOpen: true))
                optimizer.save_state_dict(writer);
            optimizerState = memory.ToArray();
        }
        var header = new CheckpointHeader
        {
            Created = DateTimeOffset.UtcNow,
            ModelType = Model.GetType().FullName ?? Model.GetType().Name,
            ParameterCount = Model.parameters().Sum(p => p.numel()),
            Task = Task.Name,
            MetricNames = Task.MetricNames.ToArray(),
            SelectionMetric = Task.SelectionMetric,
            Options = Options,
            CompletedEpochs = CompletedEpochs,
            StopReason = finished,
            BestEpoch = BestEpoch,
            BestValidation = BestValidation,
            TestAtBest = TestAtBest,
            ValidationsSinceImprovement = validationsSinceImprovement,
            EmaUpdates = ema?.Updates,
            History = history.ToArray(),
            Metadata = new Dictionary<string, string>(metadata),
        };
        return new Checkpoint(header, Checkpoint.SerializeModule(Model), bestState, optimizerState, ema?.Serialize(Model));
    }

    /// <summary>Writes the current state to <paramref name="path"/> (atomically).</summary>
    public void SaveCheckpoint(string path) => CreateCheckpoint().Save(path);

    /// <summary>The run summary and history (content of metrics.json).</summary>
    public MetricsDocument CreateMetricsDocument() => new()
    {
        Task = Task.Name,
        MetricNames = Task.MetricNames.ToArray(),
        SelectionMetric = Task.SelectionMetric,
        CompletedEpochs = CompletedEpochs,
        StopReason = finished,
        BestEpoch = BestEpoch,
        BestValidation = BestValidation,
        TestAtBest = TestAtBest,
        Options = Options,
        Metadata = metadata,
        Epochs = history,
    };

    private void WriteOutputs()
    {
        if (Options.OutputDirectory is null) return;
        Directory.CreateDirectory(Options.OutputDirectory);
        SaveCheckpoint(CheckpointPath!);
        TrainingHistory.Write(Options.OutputDirectory, CreateMetricsDocument());
    }

    private TrainingResult Result(StopReason reason) => new()
    {
        StopReason = reason,
        CompletedEpochs = CompletedEpochs,
        BestEpoch = BestEpoch,
        BestValidation = BestValidation,
        TestAtBest = TestAtBest,
        History = history.ToArray(),
        CheckpointPath = CheckpointPath,
    };

    /// <summary>Disposes the optimiser state and the weight average (not the model).</summary>
    public void Dispose()
    {
        optimizer.Dispose();
        ema?.Dispose();
    }
}

/// <summary>Gradient-norm clipping over a set of parameters.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Rescales the gradients in place so that their total L2 norm is at most <paramref name="maxNorm"/>
    /// (<c>torch.nn.utils.clip_grad_norm_</c>); returns the norm before clipping.
    /// </summary>
    public static double ClipByTotalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0) || !double.IsFinite(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The maximum gradient norm must be a positive finite number.");
        return torch.nn.utils.clip_grad_norm_(parameters, maxNorm);
    }

    /// <summary>The total L2 norm of the gradients of <paramref name="parameters"/> (parameters without gradient ignored).</summary>
    public static double TotalNorm(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        double sum = 0;
        foreach (var p in parameters)
        {
            using var grad = p.grad;
            if (grad is null) continue;
            using var sq = grad.to_type(ScalarType.Float64).square().sum();
            sum += sq.item<double>();
        }
        return Math.Sqrt(sum);
    }
}
