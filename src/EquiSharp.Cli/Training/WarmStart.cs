using System.Globalization;
using EquiSharp.Training;
using static TorchSharp.torch;

namespace EquiSharp.Cli.Training;

/// <summary>
/// <c>train --init-from</c>: a new run whose model starts from the weights another run validated and
/// tested (fine-tuning, or a warm restart with a fresh optimiser, schedule and weight average).
/// </summary>
internal static class WarmStart
{
    /// <summary>Metadata key of the source checkpoint's full path.</summary>
    public const string SourceKey = "init_from";

    /// <summary>Metadata key of the source epoch whose weights were taken.</summary>
    public const string EpochKey = "init_from_epoch";

    // Keys that describe the data or the run rather than the model; a difference there is the point of fine-tuning.
    private static readonly HashSet<string> RunKeys = ["data", "data_seed", "sizes", "augment", "augment_rotations", SourceKey, EpochKey];

    /// <summary>
    /// Loads the best-validation weights of <paramref name="checkpointPath"/> (its latest ones when it never
    /// validated) into <paramref name="model"/> and records the source in <paramref name="metadata"/>.
    /// Strict: every parameter and buffer must match by name and shape, otherwise a
    /// <see cref="CheckpointException"/> names the file. Model settings that differ without changing a
    /// shape (e.g. PONITA's grid size) are reported on stderr.
    /// </summary>
    public static void Apply(nn.Module model, string checkpointPath, IDictionary<string, string> metadata)
    {
        var source = Checkpoint.Load(checkpointPath);
        var differences = metadata.Where(kv => !RunKeys.Contains(kv.Key) && source.Header.Metadata.TryGetValue(kv.Key, out var old) && old != kv.Value)
            .Select(kv => $"{kv.Key} {source.Header.Metadata[kv.Key]} -> {kv.Value}").ToArray();
        try
        {
            source.LoadInto(model, best: true, checkpointPath);
        }
        catch (CheckpointException e)
        {
            long parameters = model.parameters().Sum(p => p.numel());
            throw new CliException($"--init-from: {e.Message} (saved: {source.Header.ParameterCount} parameters; this model: {parameters})" +
                (differences.Length > 0 ? $"; the source run's settings differ: {string.Join(", ", differences)}." : "."));
        }
        if (differences.Length > 0)
            Console.Error.WriteLine($"note: --init-from {checkpointPath}: the weights fit, but the source run had other settings: {string.Join(", ", differences)}.");
        int epoch = source.WeightsEpoch(best: true);
        metadata[SourceKey] = Path.GetFullPath(checkpointPath);
        metadata[EpochKey] = epoch.ToString(CultureInfo.InvariantCulture);
        Console.WriteLine($"initialised from {checkpointPath} (weights of epoch {epoch})");
    }
}
