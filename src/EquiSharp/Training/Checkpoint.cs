using EquiSharp.IO;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Training;

/// <summary>A checkpoint file that cannot be read: missing, truncated, corrupted, or not fitting the model. The message names the file.</summary>
public sealed class CheckpointException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public CheckpointException(string path, string message, Exception? inner = null)
        : base($"Checkpoint '{path}': {message}", inner) => Path = path;

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }
}

/// <summary>Everything about a run except the tensors: stored as JSON at the start of a checkpoint.</summary>
public sealed record CheckpointHeader
{
    /// <summary>Checkpoint format version (<see cref="Checkpoint.FormatVersion"/>).</summary>
    public int FormatVersion { get; init; } = Checkpoint.FormatVersion;

    /// <summary>When the checkpoint was written (UTC).</summary>
    public DateTimeOffset Created { get; init; }

    /// <summary>Full .NET type name of the model.</summary>
    public required string ModelType { get; init; }

    /// <summary>Number of trainable scalars of the model.</summary>
    public long ParameterCount { get; init; }

    /// <summary>Task name.</summary>
    public required string Task { get; init; }

    /// <summary>Metric names of the task.</summary>
    public required IReadOnlyList<string> MetricNames { get; init; }

    /// <summary>Selection metric of the task.</summary>
    public required string SelectionMetric { get; init; }

    /// <summary>The run's options (seed included).</summary>
    public required TrainerOptions Options { get; init; }

    /// <summary>Epochs completed; training resumes at the next one.</summary>
    public int CompletedEpochs { get; init; }

    /// <summary>Completed or EarlyStopped once the run has finished (resuming it then does nothing); Cancelled when stopped by cancellation (resumable); null in periodic checkpoints.</summary>
    public StopReason? StopReason { get; init; }

    /// <summary>Best validation epoch so far.</summary>
    public int? BestEpoch { get; init; }

    /// <summary>Validation metrics at the best epoch.</summary>
    public IReadOnlyDictionary<string, double>? BestValidation { get; init; }

    /// <summary>Test metrics at the best epoch.</summary>
    public IReadOnlyDictionary<string, double>? TestAtBest { get; init; }

    /// <summary>Validations since the last improvement (early-stopping counter).</summary>
    public int ValidationsSinceImprovement { get; init; }

    /// <summary>Updates of the weight average so far (null when the run keeps none).</summary>
    public long? EmaUpdates { get; init; }

    /// <summary>Per-epoch history.</summary>
    public IReadOnlyList<EpochRecord> History { get; init; } = [];

    /// <summary>Caller metadata (e.g. model name and data set for the CLI to rebuild the model).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A training checkpoint: <see cref="Header"/> plus the current model weights, the best-validation weights
/// and the optimiser state (TorchSharp's <c>save_state_dict</c>: Adam's step counts and moment estimates).
/// </summary>
/// <remarks>
/// File layout: the ASCII magic "EQUISHARP-CKPT", an int32 format version, an int64 payload length, the
/// payload, and the SHA-256 of the payload. The payload holds the header as UTF-8 JSON followed by named
/// binary sections ("model", "best_model", "optimizer", "ema"; model sections in TorchSharp's <c>Module.save</c>
/// format). Truncation and corruption are detected before anything is loaded.
/// </remarks>
public sealed class Checkpoint
{
    /// <summary>Current format version.</summary>
    public const int FormatVersion = 1;

    /// <summary>Conventional file name of the latest checkpoint in a run folder.</summary>
    public const string DefaultFileName = "checkpoint.ckpt";

    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("EQUISHARP-CKPT");
    private const int HashBytes = 32;

    /// <summary>Creates a checkpoint from its parts.</summary>
    public Checkpoint(CheckpointHeader header, byte[] modelState, byte[]? bestModelState, byte[]? optimizerState, byte[]? emaState = null)
    {
        EmaState = emaState;
        Header = header ?? throw new ArgumentNullException(nameof(header));
        ModelState = modelState ?? throw new ArgumentNullException(nameof(modelState));
        BestModelState = bestModelState;
        OptimizerState = optimizerState;
    }

    /// <summary>Run metadata, options and history.</summary>
    public CheckpointHeader Header { get; }

    /// <summary>Model weights after <see cref="CheckpointHeader.CompletedEpochs"/> epochs (TorchSharp <c>Module.save</c> format).</summary>
    public byte[] ModelState { get; }

    /// <summary>Model weights of the best validation epoch (null before the first validation).</summary>
    public byte[]? BestModelState { get; }

    /// <summary>Optimiser state (TorchSharp <c>save_state_dict</c> format), null if not saved.</summary>
    public byte[]? OptimizerState { get; }

    /// <summary>The moving average of the weights (<see cref="ExponentialMovingAverage"/>) in <c>Module.save</c> format, or null.</summary>
    public byte[]? EmaState { get; }

    /// <summary>Serialises a module's parameters and buffers.</summary>
    public static byte[] SerializeModule(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, Encoding.UTF8, leaveOpen: true))
            module.save(writer);
        return memory.ToArray();
    }

    /// <summary>Loads weights produced by <see cref="SerializeModule"/> into <paramref name="module"/> (strict: names and shapes must match).</summary>
    public static void DeserializeModule(nn.Module module, byte[] state)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(state);
        using var memory = new MemoryStream(state, writable: false);
        using var reader = new BinaryReader(memory);
        module.load(reader, strict: true);
    }

    /// <summary>
    /// Loads the best-validation weights (or the latest ones when <paramref name="best"/> is false or no
    /// validation has happened) into <paramref name="module"/>.
    /// </summary>
    /// <exception cref="CheckpointException">When the weights do not fit the module.</exception>
    public void LoadInto(nn.Module module, bool best = true, string? path = null)
    {
        var state = LoadsBest(best) ? BestModelState! : ModelState;
        try
        {
            DeserializeModule(module, state);
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw new CheckpointException(path ?? "(in memory)",
                $"the saved weights of {Header.ModelType} do not fit the model {module.GetType().FullName}: {e.Message}", e);
        }
    }

    /// <summary>The epoch whose weights <see cref="LoadInto"/> loads with the same <paramref name="best"/>.</summary>
    public int WeightsEpoch(bool best = true) => LoadsBest(best) && Header.BestEpoch is int epoch ? epoch : Header.CompletedEpochs;

    private bool LoadsBest(bool best) => best && BestModelState is not null;

    /// <summary>Writes the checkpoint atomically (temporary file, flush, rename).</summary>
    public void Save(string path)
    {
        using var payload = new MemoryStream();
        using (var writer = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            var header = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Header, TrainingHistory.JsonOptions));
            writer.Write(header.Length);
            writer.Write(header);
            var sections = new List<(string Name, byte[] Bytes)> { ("model", ModelState) };
            if (BestModelState is not null) sections.Add(("best_model", BestModelState));
            if (OptimizerState is not null) sections.Add(("optimizer", OptimizerState));
            if (EmaState is not null) sections.Add(("ema", EmaState));
            writer.Write(sections.Count);
            foreach (var (name, bytes) in sections)
            {
                writer.Write(name);
                writer.Write((long)bytes.Length);
                writer.Write(bytes);
            }
        }
        var payloadBytes = payload.ToArray();
        var hash = SHA256.HashData(payloadBytes);
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write((long)payloadBytes.Length);
            writer.Write(payloadBytes);
            writer.Write(hash);
        });
    }

    /// <summary>Reads and verifies a checkpoint.</summary>
    /// <exception cref="CheckpointException">Missing, not a checkpoint, truncated, corrupted (checksum) or unreadable; the message names the file.</exception>
    public static Checkpoint Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new CheckpointException(path, "file not found.");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, $"cannot be read: {e.Message}", e);
        }

        int prefix = Magic.Length + sizeof(int) + sizeof(long);
        if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException(path, bytes.Length < Magic.Length && Magic.AsSpan(0, bytes.Length).SequenceEqual(bytes)
                ? $"truncated: {bytes.Length} bytes, shorter than the file header."
                : "not an EquiSharp checkpoint (wrong magic bytes).");
        if (bytes.Length < prefix)
            throw new CheckpointException(path, $"truncated: {bytes.Length} bytes, shorter than the {prefix}-byte file header.");
        int version = BitConverter.ToInt32(bytes, Magic.Length);
        if (version != FormatVersion)
            throw new CheckpointException(path, $"format version {version}; this EquiSharp reads version {FormatVersion}.");
        long payloadLength = BitConverter.ToInt64(bytes, Magic.Length + sizeof(int));
        long expected = prefix + payloadLength + HashBytes;
        if (payloadLength < 0 || bytes.Length < expected)
            throw new CheckpointException(path, $"truncated: the header announces {expected} bytes but the file has {bytes.Length} (an interrupted copy?).");
        if (bytes.Length > expected)
            throw new CheckpointException(path, $"corrupted: {bytes.Length - expected} unexpected trailing bytes after the {expected}-byte checkpoint.");
        var payload = bytes.AsSpan(prefix, checked((int)payloadLength));
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(bytes.AsSpan((int)(prefix + payloadLength), HashBytes)))
            throw new CheckpointException(path, "corrupted: SHA-256 checksum mismatch.");

        try
        {
            using var reader = new BinaryReader(new MemoryStream(payload.ToArray(), writable: false), Encoding.UTF8);
            int headerLength = reader.ReadInt32();
            var header = JsonSerializer.Deserialize<CheckpointHeader>(reader.ReadBytes(headerLength), TrainingHistory.JsonOptions)
                ?? throw new InvalidDataException("empty header");
            var sections = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            int count = reader.ReadInt32();
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                long length = reader.ReadInt64();
                sections[name] = reader.ReadBytes(checked((int)length));
            }
            if (!sections.TryGetValue("model", out var model))
                throw new InvalidDataException("no 'model' section");
            return new Checkpoint(header, model, sections.GetValueOrDefault("best_model"), sections.GetValueOrDefault("optimizer"), sections.GetValueOrDefault("ema"));
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or EndOfStreamException or OverflowException)
        {
            throw new CheckpointException(path, $"unreadable content: {e.Message}", e);
        }
    }
}
