using EquiSharp.IO;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EquiSharp.Training;

/// <summary>What happened in one training epoch.</summary>
public sealed record EpochRecord
{
    /// <summary>One-based epoch number.</summary>
    public required int Epoch { get; init; }

    /// <summary>Learning rate of the epoch's last optimiser step.</summary>
    public required double LearningRate { get; init; }

    /// <summary>Training loss: mean of the batch losses weighted by the number of target elements per batch.</summary>
    public required double TrainLoss { get; init; }

    /// <summary>Mean total gradient norm before clipping over the epoch's steps (only computed when clipping is on).</summary>
    public double? GradientNorm { get; init; }

    /// <summary>Validation metrics, when this epoch was validated.</summary>
    public IReadOnlyDictionary<string, double>? Validation { get; init; }

    /// <summary>Test metrics, evaluated when this epoch set a new best validation value.</summary>
    public IReadOnlyDictionary<string, double>? Test { get; init; }

    /// <summary>Best validation value of the selection metric so far (after this epoch).</summary>
    public double? BestValidation { get; init; }

    /// <summary>Wall-clock seconds of the epoch (training and evaluation); differs between runs.</summary>
    public double Seconds { get; init; }
}

/// <summary>Writes the per-epoch history as CSV and JSON (atomically).</summary>
public static class TrainingHistory
{
    /// <summary>JSON settings used for metric files and checkpoint headers (camelCase off: property names as in C#).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The history as CSV: columns epoch, lr, train_loss, grad_norm, valid_&lt;metric&gt;…, test_&lt;metric&gt;…,
    /// best_valid, seconds; empty cells where a value was not computed that epoch. Invariant culture, "R" format.
    /// </summary>
    public static string ToCsv(IReadOnlyList<EpochRecord> history, IReadOnlyList<string> metricNames)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(metricNames);
        var sb = new StringBuilder();
        sb.Append("epoch,lr,train_loss,grad_norm");
        foreach (var m in metricNames) sb.Append(",valid_").Append(m);
        foreach (var m in metricNames) sb.Append(",test_").Append(m);
        sb.Append(",best_valid,seconds\n");
        foreach (var r in history)
        {
            sb.Append(r.Epoch.ToString(CultureInfo.InvariantCulture)).Append(',').Append(Num(r.LearningRate))
              .Append(',').Append(Num(r.TrainLoss)).Append(',').Append(Num(r.GradientNorm));
            foreach (var m in metricNames) sb.Append(',').Append(Num(Lookup(r.Validation, m)));
            foreach (var m in metricNames) sb.Append(',').Append(Num(Lookup(r.Test, m)));
            sb.Append(',').Append(Num(r.BestValidation)).Append(',').Append(r.Seconds.ToString("F3", CultureInfo.InvariantCulture)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The run summary and history as JSON (see <see cref="MetricsDocument"/>).</summary>
    public static string ToJson(MetricsDocument document) => JsonSerializer.Serialize(document, JsonOptions);

    /// <summary>Writes <c>metrics.csv</c> and <c>metrics.json</c> into <paramref name="folder"/>, atomically.</summary>
    public static void Write(string folder, MetricsDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        AtomicFile.WriteAllText(Path.Combine(folder, "metrics.csv"), ToCsv(document.Epochs, document.MetricNames));
        AtomicFile.WriteAllText(Path.Combine(folder, "metrics.json"), ToJson(document));
    }

    private static double? Lookup(IReadOnlyDictionary<string, double>? values, string name) =>
        values is not null && values.TryGetValue(name, out var v) ? v : null;

    private static string Num(double? v) => v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : "";
}

/// <summary>Content of <c>metrics.json</c>: the run's summary and its per-epoch history.</summary>
public sealed record MetricsDocument
{
    /// <summary>Task name (<see cref="ITrainingTask.Name"/>).</summary>
    public required string Task { get; init; }

    /// <summary>Metric names in column order.</summary>
    public required IReadOnlyList<string> MetricNames { get; init; }

    /// <summary>The metric that selects the best epoch.</summary>
    public required string SelectionMetric { get; init; }

    /// <summary>Epochs completed.</summary>
    public required int CompletedEpochs { get; init; }

    /// <summary>Why training stopped (null while running).</summary>
    public StopReason? StopReason { get; init; }

    /// <summary>Epoch with the best validation value of the selection metric.</summary>
    public int? BestEpoch { get; init; }

    /// <summary>Validation metrics at <see cref="BestEpoch"/>.</summary>
    public IReadOnlyDictionary<string, double>? BestValidation { get; init; }

    /// <summary>Test metrics at <see cref="BestEpoch"/>: the number to report.</summary>
    public IReadOnlyDictionary<string, double>? TestAtBest { get; init; }

    /// <summary>The options of the run.</summary>
    public required TrainerOptions Options { get; init; }

    /// <summary>Caller metadata (model name, data set, …).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Per-epoch records.</summary>
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }
}

/// <summary>Why <c>Trainer.Fit</c> returned.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<StopReason>))]
public enum StopReason
{
    /// <summary>All epochs were run.</summary>
    Completed,

    /// <summary>The validation metric did not improve for <see cref="TrainerOptions.Patience"/> validations.</summary>
    EarlyStopped,

    /// <summary>Cancelled through the token; resumable from the checkpoint written at that epoch boundary.</summary>
    Cancelled,
}
