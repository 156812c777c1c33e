using System.Diagnostics;
using System.Globalization;
using EquiSharp.Training;
using Spectre.Console;

namespace EquiSharp.Cli.Training;

/// <summary>
/// Shows training progress: a Spectre.Console progress bar (epoch, loss, best validation, ETA) when
/// stdout is an interactive terminal, plain log lines otherwise (CI, pipes, files). Plain mode prints
/// the first epoch, every validated epoch and the last one.
/// </summary>
internal sealed class TrainingDisplay
{
    private readonly Trainer trainer;
    private readonly string metric;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly int startEpoch;

    public TrainingDisplay(Trainer trainer)
    {
        this.trainer = trainer;
        metric = trainer.Task.SelectionMetric;
        startEpoch = trainer.CompletedEpochs;
    }

    /// <summary>True when progress bars can be drawn (stdout is a terminal and not redirected).</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive
        && Environment.GetEnvironmentVariable("CI") is null;

    /// <summary>Runs <paramref name="fit"/> while displaying progress.</summary>
    public TrainingResult Run(Func<TrainingResult> fit)
    {
        if (!Interactive)
        {
            trainer.EpochCompleted += record =>
            {
                if (record.Epoch == startEpoch + 1 || record.Validation is not null || record.Epoch == trainer.Options.Epochs)
                    Console.WriteLine(Line(record));
            };
            return fit();
        }

        TrainingResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 20 }, new PercentageColumn(),
                new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape($"epoch {startEpoch}/{trainer.Options.Epochs}"), maxValue: trainer.Options.Epochs);
                task.Value = startEpoch;
                trainer.StepCompleted += step =>
                {
                    task.Value = step.Epoch - 1 + (double)step.Step / step.StepsPerEpoch;
                };
                trainer.EpochCompleted += record =>
                {
                    task.Value = record.Epoch;
                    task.Description = Markup.Escape(Short(record));
                    if (record.Validation is not null)
                        AnsiConsole.MarkupLine(Markup.Escape(Line(record)));
                };
                result = fit();
                task.StopTask();
            });
        return result!;
    }

    private string Short(EpochRecord r) =>
        $"epoch {r.Epoch}/{trainer.Options.Epochs} loss {G(r.TrainLoss)} best {G(r.BestValidation)}";

    private static string G(double? v) => v is double d ? d.ToString("0.####e+0", CultureInfo.InvariantCulture) : "-";

    /// <summary>One log line: epoch, lr, train loss, validation, best, test at best, elapsed and ETA.</summary>
    public string Line(EpochRecord r)
    {
        var parts = new List<string>
        {
            $"epoch {r.Epoch}/{trainer.Options.Epochs}",
            $"lr {r.LearningRate.ToString("0.###e+0", CultureInfo.InvariantCulture)}",
            $"train loss {F(r.TrainLoss)}",
        };
        if (r.GradientNorm is double g) parts.Add($"grad norm {F(g)}");
        if (r.Validation is not null) parts.Add($"valid {metric} {F(r.Validation[metric])}");
        parts.Add($"best {F(r.BestValidation)} (epoch {trainer.BestEpoch?.ToString(CultureInfo.InvariantCulture) ?? "-"})");
        if (trainer.TestAtBest is not null) parts.Add($"test@best {F(trainer.TestAtBest[metric])}");
        double elapsed = clock.Elapsed.TotalSeconds;
        int done = r.Epoch - startEpoch, left = trainer.Options.Epochs - r.Epoch;
        parts.Add($"{Duration(elapsed)} elapsed, ETA {Duration(done > 0 ? elapsed / done * left : double.NaN)}");
        return string.Join("  ", parts);
    }

    private static string F(double? v) => v is double d ? d.ToString("0.000000", CultureInfo.InvariantCulture) : "-";

    internal static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds)) return "-";
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:0.0}s";
    }
}
