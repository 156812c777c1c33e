namespace EquiSharp.Training;

/// <summary>
/// The learning rate of a <see cref="TrainerOptions"/> schedule at a given epoch and step.
/// </summary>
/// <remarks>
/// <para>Time t counts optimiser steps (granularity <see cref="ScheduleGranularity.Step"/>: t = epoch × S + step,
/// horizon T = Epochs × S, warm-up W = WarmupEpochs × S, with S steps per epoch) or epochs
/// (<see cref="ScheduleGranularity.Epoch"/>: t = epoch, T = Epochs, W = WarmupEpochs), all zero-based.</para>
/// <para>Warm-up (t &lt; W): lr = base × (t + 1) / W, rising linearly so that the last warm-up step uses the
/// base rate. After it, <see cref="LearningRateSchedule.Constant"/> keeps the base rate and
/// <see cref="LearningRateSchedule.Cosine"/> uses lr = min + (base − min) × ½ (1 + cos(π (t − W) / (T − W))),
/// which starts at the base rate right after the warm-up and approaches min at the last step.</para>
/// <para>A constant schedule with a cooldown of C epochs (<see cref="TrainerOptions.CooldownEpochs"/>) keeps the
/// base rate until D = (Epochs − C) × S steps (D = Epochs − C epochs) and then follows the same half cosine
/// over [D, T): lr = min + (base − min) × ½ (1 + cos(π (t − D) / (T − D))). A cooldown over every epoch after the
/// warm-up (C = Epochs − WarmupEpochs) therefore equals the cosine schedule.</para>
/// </remarks>
public static class LearningRateSchedules
{
    /// <summary>The learning rate for zero-based <paramref name="epoch"/> and <paramref name="step"/> within it.</summary>
    /// <param name="options">Schedule, base and minimum rate, warm-up, granularity and epoch count.</param>
    /// <param name="epoch">Zero-based epoch, in [0, Epochs).</param>
    /// <param name="step">Zero-based optimiser step within the epoch, in [0, stepsPerEpoch).</param>
    /// <param name="stepsPerEpoch">Optimiser steps per epoch (≥ 1).</param>
    public static double At(TrainerOptions options, int epoch, int step, int stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (stepsPerEpoch < 1)
            throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), stepsPerEpoch, "Steps per epoch must be at least 1.");
        if (epoch < 0 || epoch >= options.Epochs)
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"The epoch must lie in [0, {options.Epochs}).");
        if (step < 0 || step >= stepsPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(step), step, $"The step must lie in [0, {stepsPerEpoch}).");

        long t, total, warmup, cooldownStart;
        if (options.ScheduleGranularity == ScheduleGranularity.Step)
        {
            t = (long)epoch * stepsPerEpoch + step;
            total = (long)options.Epochs * stepsPerEpoch;
            warmup = (long)options.WarmupEpochs * stepsPerEpoch;
            cooldownStart = (long)options.CooldownStart * stepsPerEpoch;
        }
        else
        {
            t = epoch;
            total = options.Epochs;
            warmup = options.WarmupEpochs;
            cooldownStart = options.CooldownStart;
        }

        double baseLr = options.LearningRate;
        if (t < warmup)
            return baseLr * (t + 1) / warmup;
        long decayStart = warmup;
        if (options.Schedule == LearningRateSchedule.Constant)
        {
            if (t < cooldownStart)
                return baseLr;
            decayStart = cooldownStart;
        }
        double progress = (double)(t - decayStart) / (total - decayStart);
        return options.MinLearningRate + (baseLr - options.MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
