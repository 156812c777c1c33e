using System.Diagnostics;
using System.Globalization;
using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.IO;
using EquiSharp.Models;
using EquiSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Cli.Training;

/// <summary>The N-body task as the CLI sees it: data files, models by name, batch sources, reference numbers.</summary>
internal static class NBodyCli
{
    /// <summary>File name of the dataset inside a data folder.</summary>
    public const string DataFileName = "nbody.npz";

    /// <summary>Benchmark split sizes.</summary>
    public static readonly NBodySplitSizes BenchmarkSizes = new();

    /// <summary>
    /// Published test MSE (EGNN paper; SEGNN paper for segnn) for the models the CLI trains. The paper's table has one
    /// "Linear" row (0.0819) without saying which of the reference code's two linear models produced
    /// it, so both show that figure.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, double> Published = new Dictionary<string, double>
    {
        ["linear"] = 0.0819, ["linear-vel"] = 0.0819, ["gnn"] = 0.0107, ["egnn"] = 0.0071, ["segnn"] = 0.0043, ["tfn"] = 0.0155,
        ["ponita"] = 0.0043,
    };

    /// <summary>
    /// The reference training settings of a model (used for every option the user does not give):
    /// PONITA's (hidden 128, 5 layers, lr 1e-3, weight decay 1e-10, cosine with 10 warm-up epochs, gradient
    /// clipping 0.5, random rotations); the EGNN paper's for the others (10000 epochs; lr 5e-4, the
    /// reference README's 1e-3 for the GNN), with the SEGNN paper's 1000 epochs for SEGNN.
    /// </summary>
    public static NBodyReferenceSettings Reference(string model) => model.Trim().ToLowerInvariant() switch
    {
        "gnn" => new NBodyReferenceSettings(LearningRate: 1e-3),
        "segnn" => new NBodyReferenceSettings(Epochs: 1000),
        "ponita" => new NBodyReferenceSettings(Hidden: 128, Layers: 5, LearningRate: 1e-3, WeightDecay: 1e-10, Cosine: true,
            WarmupEpochs: 10, Clip: 0.5, Augment: true, Calibrate: true),
        // No published LieConv run on this task: PONITA's optimiser settings with a smaller network (4 samples per particle).
        "lieconv" => new NBodyReferenceSettings(Hidden: 64, Layers: 4, LearningRate: 1e-3, WeightDecay: 1e-10, Cosine: true,
            WarmupEpochs: 10, Clip: 0.5, Augment: false),
        _ => new NBodyReferenceSettings(),
    };

    /// <summary>The default data folder for a seed and split sizes (under runs/, which git ignores).</summary>
    public static string DefaultDataFolder(long seed, NBodySplitSizes sizes) =>
        Path.Combine("runs", "data", $"nbody-s{seed}-{sizes.Train}-{sizes.Valid}-{sizes.Test}");

    /// <summary>
    /// Loads <c>folder/nbody.npz</c> if it exists, or simulates it with <paramref name="seed"/> and
    /// <paramref name="sizes"/> and saves it. An existing file must agree with the seed and sizes the
    /// user asked for explicitly (<paramref name="checkSeed"/>, <paramref name="checkSizes"/>).
    /// </summary>
    public static NBodyDataset LoadOrGenerate(string folder, long seed, NBodySplitSizes sizes, bool checkSeed, bool[] checkSizes, int? workers, Action<string> log)
    {
        string file = Path.Combine(folder, DataFileName);
        if (File.Exists(file))
        {
            var loaded = NBodyDataset.Load(file);
            var have = new NBodySplitSizes(loaded.Train.Count, loaded.Valid.Count, loaded.Test.Count);
            var conflicts = new List<string>();
            if (checkSeed && loaded.Seed != seed) conflicts.Add($"--data-seed {seed} (file: {loaded.Seed})");
            var splits = Enum.GetValues<NBodySplit>();
            for (int k = 0; k < splits.Length; k++)
                if (checkSizes[k] && have[splits[k]] != sizes[splits[k]])
                    conflicts.Add($"--{SplitOption(splits[k])} {sizes[splits[k]]} (file: {have[splits[k]]})");
            if (conflicts.Count > 0)
                throw new CliException($"{file} does not match the requested {string.Join(", ", conflicts)}; drop those options or choose another --data folder.");
            log($"data: {file} (seed {loaded.Seed}, {Describe(have)} trajectories)");
            return loaded;
        }
        return Generate(folder, seed, sizes, workers, log);
    }

    private static string SplitOption(NBodySplit split) => split switch
    {
        NBodySplit.Train => "train",
        NBodySplit.Valid => "valid",
        _ => "test",
    };

    /// <summary>Simulates a dataset and writes <c>folder/nbody.npz</c> atomically.</summary>
    public static NBodyDataset Generate(string folder, long seed, NBodySplitSizes sizes, int? workers, Action<string> log,
        NBodyRandomStream stream = NBodyRandomStream.SplitMix64)
    {
        string file = Path.Combine(folder, DataFileName);
        string which = stream == NBodyRandomStream.NumPyReference ? "NumPy reference stream, " : "";
        log($"simulating {Describe(sizes)} trajectories ({which}seed {seed}) ...");
        var clock = Stopwatch.StartNew();
        var dataset = NBodyDataset.Generate(checked((int)seed), sizes, maxParallelism: workers, stream: stream);
        Directory.CreateDirectory(folder);
        dataset.Save(file);
        log($"data: {file} written in {clock.Elapsed.TotalSeconds:F1} s");
        return dataset;
    }

    /// <summary>Loads the dataset of a finished or running training run (from its metadata, or from <paramref name="dataFolder"/>).</summary>
    public static NBodyDataset LoadForRun(IReadOnlyDictionary<string, string> metadata, string? dataFolder, string checkpointPath)
    {
        string folder = dataFolder ?? (metadata.TryGetValue("data", out var d) ? d
            : throw new CliException($"{checkpointPath} does not say where its data is; pass --data."));
        string file = Path.Combine(folder, DataFileName);
        if (!File.Exists(file))
            throw new CliException($"data file {file} not found (recorded by {checkpointPath}); pass --data <folder containing {DataFileName}>.");
        return NBodyDataset.Load(file);
    }

    /// <summary>Batches of a split built directly from the arrays (frames 30 → 40, float32).</summary>
    public static IBatchSource Source(NBodyDataset dataset, NBodySplit split) =>
        new DelegateBatchSource(dataset[split].Count, indices => dataset.CreateBatch(split, indices));

    /// <summary>
    /// The training source; with <paramref name="augment"/> positions, velocities and target are rotated by a
    /// random rotation, one per system when <paramref name="perSystem"/> (PONITA's reference; runs written
    /// since 2026-11-30) or one per batch (older runs, so that they resume as they started).
    /// </summary>
    public static IBatchSource TrainingSource(NBodyDataset dataset, bool augment, bool perSystem = true)
    {
        if (!augment) return Source(dataset, NBodySplit.Train);
        var fields = new EquiSharp.Equivariance.InputFieldTypes { NodeTarget = EquiSharp.Equivariance.FieldType.Position };
        return new AugmentedBatchSource(Source(dataset, NBodySplit.Train),
            perSystem ? AugmentedBatchSource.RandomRotationPerGraph(fields) : AugmentedBatchSource.RandomRotation(fields));
    }

    /// <summary>The metadata value of <see cref="AugmentRotationsKey"/> for one rotation per system.</summary>
    public const string PerSystemRotations = "per-system";

    /// <summary>Metadata key saying how augmentation rotations are drawn (absent in runs that rotated whole batches).</summary>
    public const string AugmentRotationsKey = "augment_rotations";

    /// <summary>Whether a run draws one augmentation rotation per system (false for runs written before that existed).</summary>
    public static bool RotatesPerSystem(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(AugmentRotationsKey, out var r) && r == PerSystemRotations;

    /// <summary>Whether a run's metadata asks for rotation augmentation (false for runs written before the option existed).</summary>
    public static bool Augmented(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue("augment", out var a) && bool.Parse(a);

    /// <summary>Model options from CLI values.</summary>
    public static NBodyModelOptions ModelOptions(int hidden, int layers, int orientations = 16, int basisDimension = 256, bool calibrate = false) =>
        new(Hidden: hidden, Layers: layers, Orientations: orientations, BasisDimension: basisDimension, Calibrate: calibrate);

    /// <summary>The metadata that lets evaluate/predict/resume rebuild the model and find the data.</summary>
    public static Dictionary<string, string> Metadata(string model, NBodyModelOptions options, string dataFolder, long dataSeed, NBodySplitSizes sizes) => new()
    {
        ["task"] = "nbody",
        ["model"] = model,
        ["hidden"] = options.Hidden.ToString(CultureInfo.InvariantCulture),
        ["layers"] = options.Layers.ToString(CultureInfo.InvariantCulture),
        ["tanh"] = options.Tanh.ToString(),
        ["normalize_difference"] = options.NormalizeDifference.ToString(),
        ["attention"] = options.Attention.ToString(),
        ["orientations"] = options.Orientations.ToString(CultureInfo.InvariantCulture),
        ["basis_dim"] = options.BasisDimension.ToString(CultureInfo.InvariantCulture),
        ["calibrate"] = options.Calibrate.ToString(),
        ["data"] = Path.GetFullPath(dataFolder),
        ["data_seed"] = dataSeed.ToString(CultureInfo.InvariantCulture),
        ["sizes"] = $"{sizes.Train},{sizes.Valid},{sizes.Test}",
        ["input_frame"] = "30",
        ["target_frame"] = "40",
    };

    /// <summary>Rebuilds the (freshly initialised) model recorded in a checkpoint's metadata.</summary>
    public static (string Name, nn.Module<GraphBatch, Tensor> Model) CreateModel(IReadOnlyDictionary<string, string> metadata, string checkpointPath)
    {
        string Get(string key) => metadata.TryGetValue(key, out var v) ? v
            : throw new CliException($"{checkpointPath} lacks metadata '{key}'; it was not written by 'equisharp train --task nbody'.");
        if (Get("task") != "nbody")
            throw new CliException($"{checkpointPath} is a '{metadata["task"]}' run; only 'nbody' is supported.");
        var options = new NBodyModelOptions(
            Hidden: int.Parse(Get("hidden"), CultureInfo.InvariantCulture),
            Layers: int.Parse(Get("layers"), CultureInfo.InvariantCulture),
            Tanh: bool.Parse(Get("tanh")),
            NormalizeDifference: bool.Parse(Get("normalize_difference")),
            Attention: bool.Parse(Get("attention")),
            Orientations: metadata.TryGetValue("orientations", out var o) ? int.Parse(o, CultureInfo.InvariantCulture) : 16,
            BasisDimension: metadata.TryGetValue("basis_dim", out var b) ? int.Parse(b, CultureInfo.InvariantCulture) : 256,
            Calibrate: metadata.TryGetValue("calibrate", out var c) && bool.Parse(c));
        string name = Get("model");
        return (name, NBodyModels.Create(name, options));
    }

    /// <summary>
    /// Reads prediction inputs from an .npz: <c>positions</c> [B, P, 3], <c>velocities</c> [B, P, 3] and
    /// <c>charges</c> [B, P] (float32 or float64); returns one graph per system in the training layout.
    /// </summary>
    public static List<GeometricGraph> ReadInputs(string path)
    {
        var npz = Npz.Load(path);
        var x = Array3(npz, path, "positions");
        long b = x.Shape[0], p = x.Shape[1];
        var v = Array3(npz, path, "velocities");
        if (!v.Shape.SequenceEqual(x.Shape))
            throw new CliException($"{path}: 'velocities' has shape {v.ShapeString} but 'positions' has {x.ShapeString}.");
        var q = npz.Get("charges");
        if (q.Shape.Length != 2 || q.Shape[0] != b || q.Shape[1] != p)
            throw new CliException($"{path}: 'charges' has shape {q.ShapeString}; expected ({b}, {p}) (one charge per particle of each system).");
        double[] xs = x.ToDoubleArray(), vs = v.ToDoubleArray(), qs = q.ToDoubleArray();
        if (xs.Concat(vs).Concat(qs).FirstOrDefault(d => !double.IsFinite(d), 0.0) is var bad && !double.IsFinite(bad))
            throw new CliException($"{path}: the inputs contain the non-finite value {bad}.");
        if (p < 2)
            throw new CliException($"{path}: systems need at least 2 particles, got {p}.");
        var edgeIndex = NBodyDataset.FullyConnectedEdgeIndex(checked((int)p));
        var graphs = new List<GeometricGraph>(checked((int)b));
        for (long s = 0; s < b; s++)
        {
            var pos = torch.tensor(xs.AsSpan((int)(s * p * 3), (int)(p * 3)).ToArray(), new long[] { p, 3 }, ScalarType.Float32);
            var vel = torch.tensor(vs.AsSpan((int)(s * p * 3), (int)(p * 3)).ToArray(), new long[] { p, 1, 3 }, ScalarType.Float32);
            var charge = torch.tensor(qs.AsSpan((int)(s * p), (int)p).ToArray(), new long[] { p, 1 }, ScalarType.Float32);
            var qq = charge.index_select(0, edgeIndex[1]) * charge.index_select(0, edgeIndex[0]);
            graphs.Add(new GeometricGraph { Positions = pos, NodeVectors = vel, NodeFeatures = charge, EdgeIndex = edgeIndex, EdgeAttributes = qq });
        }
        return graphs;
    }

    private static NpyArray Array3(NpzArchive npz, string path, string key)
    {
        var a = npz.Get(key);
        if (a.Shape.Length != 3 || a.Shape[2] != 3)
            throw new CliException($"{path}: '{key}' has shape {a.ShapeString}; expected (systems, particles, 3).");
        return a;
    }

    public static string Describe(NBodySplitSizes s) => $"{s.Train}/{s.Valid}/{s.Test}";
}

/// <summary>Per-model reference training settings (defaults: the EGNN paper's).</summary>
internal sealed record NBodyReferenceSettings(int Hidden = 64, int Layers = 4, double LearningRate = 5e-4, double WeightDecay = 1e-12,
    bool Cosine = false, int WarmupEpochs = 0, double? Clip = null, bool Augment = false, int Epochs = 10000, bool Calibrate = false);

/// <summary>An error in the user's input, printed without a stack trace (exit code 1).</summary>
internal sealed class CliException(string message) : Exception(message);
