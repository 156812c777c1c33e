using System.Text.Json.Serialization;

namespace EquiSharp.Training;

/// <summary>Optimiser used by <see cref="Trainer"/>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OptimizerKind>))]
public enum OptimizerKind
{
    /// <summary>Adam with L2 weight decay added to the gradient (PyTorch's <c>torch.optim.Adam</c>).</summary>
    Adam,

    /// <summary>AdamW: weight decay decoupled from the gradient (Loshchilov and Hutter).</summary>
    AdamW,
}

/// <summary>Learning-rate schedule used by <see cref="Trainer"/>; see <see cref="LearningRateSchedules"/>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LearningRateSchedule>))]
public enum LearningRateSchedule
{
    /// <summary>
    /// The base learning rate after the optional linear warm-up, until the optional cooldown
    /// (<see cref="TrainerOptions.CooldownEpochs"/>) of the last epochs decays it to <see cref="TrainerOptions.MinLearningRate"/>.
    /// </summary>
    Constant,

    /// <summary>Linear warm-up, then cosine decay from the base rate to <see cref="TrainerOptions.MinLearningRate"/> at the last epoch.</summary>
    Cosine,
}

/// <summary>How often the learning rate of a schedule changes.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ScheduleGranularity>))]
public enum ScheduleGranularity
{
    /// <summary>Every optimiser step (smooth; warm-up and decay counted in steps = epochs × steps per epoch).</summary>
    Step,

    /// <summary>Once per epoch (constant within an epoch, as timm's and most reference schedulers do).</summary>
    Epoch,
}

/// <summary>
/// Hyper-parameters and bookkeeping options of a <see cref="Trainer"/> run. Every value is stored in the
/// checkpoint, so a resumed run continues with exactly the same settings.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Total number of training epochs (one pass over the shuffled training set each).</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Graphs per mini-batch (training and evaluation).</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>Drop the last incomplete training batch of every epoch.</summary>
    public bool DropLast { get; init; }

    /// <summary>Optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Base (peak) learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Weight decay: L2 penalty for Adam, decoupled decay for AdamW.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Adam β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam β2 (PyTorch's default 0.999; note that TorchSharp's <c>torch.optim.Adam</c> factory defaults to 0.99).</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Epochs of linear warm-up at the start (0 = none); applies to both schedules.</summary>
    public int WarmupEpochs { get; init; }

    /// <summary>Whether the schedule is evaluated per optimiser step or per epoch.</summary>
    public ScheduleGranularity ScheduleGranularity { get; init; } = ScheduleGranularity.Step;

    /// <summary>Final learning rate of the cosine schedule and of the constant schedule's cooldown.</summary>
    public double MinLearningRate { get; init; }

    /// <summary>
    /// Constant schedule only: the last this many epochs decay the rate from the base rate to
    /// <see cref="MinLearningRate"/> along a half cosine (a warm-up–stable–decay schedule); 0 = no cooldown.
    /// Unlike a cosine schedule, the run's length need not be fixed in advance: a resumed run may still
    /// be extended or given a cooldown while the cooldown has not begun (<see cref="ResumeChanges"/>).
    /// </summary>
    public int CooldownEpochs { get; init; }

    /// <summary>The first (zero-based) epoch of the cooldown; <see cref="Epochs"/> when there is none.</summary>
    [JsonIgnore]
    public int CooldownStart => Epochs - CooldownEpochs;

    /// <summary>Maximum total gradient norm (L2 over all parameters); null = no clipping.</summary>
    public double? GradientClipNorm { get; init; }

    /// <summary>
    /// Keep an exponential moving average of the weights with this decay (e.g. 0.999; see
    /// <see cref="ExponentialMovingAverage"/>) and validate, test and save it as the best weights instead
    /// of the last iterate; null = off.
    /// </summary>
    public double? EmaDecay { get; init; }

    /// <summary>Validate every k epochs (and always after the last epoch).</summary>
    public int ValidateEvery { get; init; } = 1;

    /// <summary>Early stopping: stop after this many validations without improvement; null = never.</summary>
    public int? Patience { get; init; }

    /// <summary>Minimum decrease of the selection metric that counts as an improvement.</summary>
    public double MinImprovement { get; init; }

    /// <summary>
    /// Seed of the run. Epoch e shuffles the training set with a seed derived from (Seed, e) and re-seeds
    /// libtorch's global generator with it, so a resumed run repeats an uninterrupted one exactly.
    /// </summary>
    public long Seed { get; init; }

    /// <summary>Shuffle the training set every epoch.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// Folder for <c>checkpoint.ckpt</c>, <c>metrics.csv</c> and <c>metrics.json</c> (written atomically after
    /// every validation, at the end and when cancelled); null = write nothing.
    /// </summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentException($"TrainerOptions.{name} = {value}: {rule}.", name);
        }
        static bool Finite(double v) => double.IsFinite(v);
        Require(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Require(Finite(LearningRate) && LearningRate > 0, nameof(LearningRate), LearningRate, "must be a positive finite number");
        Require(Finite(WeightDecay) && WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be a finite number ≥ 0");
        Require(Beta1 >= 0 && Beta1 < 1, nameof(Beta1), Beta1, "must lie in [0, 1)");
        Require(Beta2 >= 0 && Beta2 < 1, nameof(Beta2), Beta2, "must lie in [0, 1)");
        Require(Finite(Epsilon) && Epsilon >= 0, nameof(Epsilon), Epsilon, "must be a finite number ≥ 0");
        Require(WarmupEpochs >= 0 && WarmupEpochs < Epochs, nameof(WarmupEpochs), WarmupEpochs,
            $"must lie in [0, Epochs = {Epochs})");
        Require(CooldownEpochs >= 0 && CooldownEpochs <= Epochs - WarmupEpochs, nameof(CooldownEpochs), CooldownEpochs,
            $"must lie in [0, Epochs − WarmupEpochs = {Epochs - WarmupEpochs}]");
        Require(CooldownEpochs == 0 || Schedule == LearningRateSchedule.Constant, nameof(CooldownEpochs), CooldownEpochs,
            $"applies to the constant schedule only (the {Schedule.ToString().ToLowerInvariant()} schedule decays by itself)");
        Require(Finite(MinLearningRate) && MinLearningRate >= 0 && MinLearningRate <= LearningRate, nameof(MinLearningRate),
            MinLearningRate, $"must lie in [0, LearningRate = {LearningRate}]");
        Require(GradientClipNorm is null || (Finite(GradientClipNorm.Value) && GradientClipNorm > 0), nameof(GradientClipNorm),
            GradientClipNorm, "must be a positive finite number (or null for no clipping)");
        Require(EmaDecay is null || (EmaDecay > 0 && EmaDecay < 1), nameof(EmaDecay), EmaDecay, "must lie in (0, 1) (or null for no averaging)");
        Require(ValidateEvery >= 1, nameof(ValidateEvery), ValidateEvery, "must be at least 1");
        Require(Patience is null || Patience >= 1, nameof(Patience), Patience, "must be at least 1 (or null for no early stopping)");
        Require(Finite(MinImprovement) && MinImprovement >= 0, nameof(MinImprovement), MinImprovement, "must be a finite number ≥ 0");
        Require(Enum.IsDefined(Optimizer), nameof(Optimizer), Optimizer, "unknown optimiser");
        Require(Enum.IsDefined(Schedule), nameof(Schedule), Schedule, "unknown schedule");
        Require(Enum.IsDefined(ScheduleGranularity), nameof(ScheduleGranularity), ScheduleGranularity, "unknown granularity");
    }
}
