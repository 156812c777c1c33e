namespace EquiSharp.Training;

/// <summary>
/// What a resumed run may change (<see cref="Trainer.Resume"/>): its length, its cooldown and its early stopping.
/// Everything else (model, data, optimiser, schedule, seed) stays as recorded, so that a resumed run
/// remains the continuation of the one it extends. A run that had finished (all epochs done, or
/// stopped early) trains on when the changes leave it something to do.
/// </summary>
public sealed record ResumeChanges
{
    /// <summary>
    /// The new total number of epochs: at least the number completed. Only runs with a constant
    /// learning rate (after the warm-up) can change it, because a cosine schedule is laid out over
    /// the recorded number and changing it would change the rate of the epochs still to come; and only
    /// while their cooldown, if any, has not begun.
    /// </summary>
    public int? Epochs { get; init; }

    /// <summary>
    /// The new cooldown of a constant-rate run (<see cref="TrainerOptions.CooldownEpochs"/>), counted back
    /// from the (new) last epoch; 0 removes it. The cooldown may not begin before the epochs already
    /// completed, and a cooldown that has begun can no longer be moved: every completed epoch keeps the
    /// rate it was trained with.
    /// </summary>
    public int? CooldownEpochs { get; init; }

    /// <summary>The new early-stopping patience, in validations without improvement (the count so far is kept).</summary>
    public int? Patience { get; init; }

    /// <summary>Turns early stopping off.</summary>
    public bool NoEarlyStopping { get; init; }

    /// <summary>The recorded options of a run with these changes applied.</summary>
    /// <param name="recorded">The run's options.</param>
    /// <param name="completedEpochs">Epochs the run has completed.</param>
    /// <exception cref="ArgumentException">A change that the run cannot take, with the reason.</exception>
    public TrainerOptions ApplyTo(TrainerOptions recorded, int completedEpochs)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        if (NoEarlyStopping && Patience is not null)
            throw new ArgumentException($"Give either a new patience ({Patience}) or no early stopping, not both.");
        var options = recorded;
        if (Epochs is int epochs && epochs != recorded.Epochs)
        {
            if (epochs < completedEpochs)
                throw new ArgumentException($"The run has completed {completedEpochs} epochs; it cannot be shortened to {epochs}.");
            if (recorded.Schedule != LearningRateSchedule.Constant)
                throw new ArgumentException($"The run's {recorded.Schedule.ToString().ToLowerInvariant()} learning-rate schedule is laid out over its {recorded.Epochs} epochs; " +
                                            "only a run with a constant rate can change its number of epochs.");
            options = options with { Epochs = epochs };
        }
        if (CooldownEpochs is int cooldown && cooldown != recorded.CooldownEpochs)
        {
            if (recorded.Schedule != LearningRateSchedule.Constant)
                throw new ArgumentException($"A cooldown applies to a run with a constant rate; this run's schedule is {recorded.Schedule.ToString().ToLowerInvariant()}.");
            options = options with { CooldownEpochs = cooldown };
        }
        if (options.CooldownStart != recorded.CooldownStart || options.Epochs != recorded.Epochs)
        {
            // The rates of the completed epochs must not change: the old and the new cooldown both begin after them.
            if (recorded.CooldownStart < completedEpochs)
                throw new ArgumentException($"The run's cooldown began at epoch {recorded.CooldownStart + 1} and {completedEpochs} epochs are completed; " +
                                            "its length and cooldown can no longer change.");
            if (options.CooldownStart < completedEpochs)
                throw new ArgumentException($"A cooldown of {options.CooldownEpochs} epochs in a run of {options.Epochs} would begin at epoch {options.CooldownStart + 1}, " +
                                            $"but {completedEpochs} epochs are completed; it must begin after them (at most {options.Epochs - completedEpochs} cooldown epochs).");
        }
        if (Patience is int patience) options = options with { Patience = patience };
        if (NoEarlyStopping) options = options with { Patience = null };
        options.Validate();
        return options;
    }
}
