using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EquiSharp.Datasets.Molecules;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Runtime;
using EquiSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Cli.Training;

/// <summary>The QM9 and rMD17 tasks as the CLI sees them: options, data and splits, models, metadata for resume/evaluate.</summary>
internal static class MoleculeCli
{
    /// <summary>Default epochs of a molecular run (the EGNN QM9 protocol; far beyond a CPU budget, pass --epochs).</summary>
    public const int DefaultEpochs = 1000;

    /// <summary>Default batch size: 96 for QM9 (EGNN), 5 for rMD17 (NequIP/MACE).</summary>
    public static int DefaultBatchSize(string task) => task == "md17" ? 5 : 96;

    /// <summary>The options only the molecular tasks use.</summary>
    internal sealed class Options
    {
        public readonly Option<string> Target = new("--target") { Description = "qm9: the property (mu, alpha, homo, lumo, gap, r2, zpve, U0, U, H, G, Cv).", DefaultValueFactory = _ => "homo" };
        public readonly Option<string> Molecule = new("--molecule") { Description = "md17: the molecule (files rmd17_<molecule>_train|test_<NN>.npz in --data).", DefaultValueFactory = _ => "aspirin" };
        public readonly Option<int> Md17Split = new Option<int>("--md17-split") { Description = "md17: which of the 5 rMD17 index splits (file suffix _01.._05).", DefaultValueFactory = _ => 1 }.AtLeast(1);
        public readonly Option<int?> Subset = new Option<int?>("--subset") { Description = "qm9: use N molecules of a seeded permutation (default split 80/10/10 of N unless --train/--valid/--test are given)." }.AtLeast(3);
        public readonly Option<string> Split = new("--split") { Description = "qm9: auto (egnn on the full 130,831 molecules, else seeded 80/10/10), egnn (100,000/17,748/13,083), dimenet (110,000/10,000/10,831), seeded.", DefaultValueFactory = _ => "auto" };
        public readonly Option<string?> Features = new("--features") { Description = "Node features: charge-powers (EGNN: one-hot x [1, Z/9, (Z/9)^2]) or one-hot. Default: charge-powers for egnn, one-hot otherwise." };
        public readonly Option<double?> GraphCutoff = new Option<double?>("--graph-cutoff") { Description = "Connect atoms at most this far apart (Å); default: fully connected molecules." }.Positive();
        public readonly Option<double?> Cutoff = new Option<double?>("--cutoff") { Description = "Radial basis range and SchNet cosine cutoff (Å); default 10 for qm9, 5 for md17." }.Positive();
        public readonly Option<string> Normalize = new("--normalize") { Description = "qm9: target normalisation by the training mean and mad (mean absolute deviation, EGNN) or std.", DefaultValueFactory = _ => "mad" };
        public readonly Option<string?> Atomref = new("--atomref") { Description = "qm9: atomref.txt (default: next to --data); needed when the data has no *_thermo arrays." };
        public readonly Option<string?> Uncharacterized = new("--uncharacterized") { Description = "qm9: uncharacterized.txt whose molecules are dropped (default: next to --data when present)." };
        public readonly Option<double> EnergyWeight = new Option<double>("--energy-weight") { Description = "md17: weight of the energy MSE in the loss (SchNet: 0.01).", DefaultValueFactory = _ => 0.01 }.Positive(allowZero: true);
        public readonly Option<double> ForceWeight = new Option<double>("--force-weight") { Description = "md17: weight of the force MSE in the loss.", DefaultValueFactory = _ => 1.0 }.Positive(allowZero: true);

        public Options()
        {
            Split.AcceptOnlyFromAmong("auto", "egnn", "dimenet", "seeded");
            Normalize.AcceptOnlyFromAmong("mad", "std");
            Features.AcceptOnlyFromAmong("charge-powers", "one-hot");
            Molecule.AcceptOnlyFromAmong(Md17.Molecules.ToArray());
        }

        public Option[] All => [Target, Molecule, Md17Split, Subset, Split, Features, GraphCutoff, Cutoff, Normalize, Atomref, Uncharacterized, EnergyWeight, ForceWeight];

        /// <summary>EGNN's learning rates: 1e-3 for HOMO, LUMO and gap, else 5e-4.</summary>
        public double ReferenceLearningRate(System.CommandLine.ParseResult parse, string task) =>
            task == "qm9" && parse.GetValue(Target)!.ToLowerInvariant() is "homo" or "lumo" or "gap" ? 1e-3 : 5e-4;
    }

    /// <summary>Rejects N-body-only models for the molecular tasks.</summary>
    public static void CheckModel(string task, string model)
    {
        if (!MolecularModels.Names.Contains(model))
            throw new CliException($"--model {model} is not a molecular model; --task {task} takes: {string.Join(", ", MolecularModels.Names)}.");
    }

    /// <summary>Everything a molecular run needs, rebuilt identically from its metadata.</summary>
    private sealed record Run(string Name, nn.Module<GraphBatch, Tensor> Model, ITrainingTask Task, MoleculeBatchSource Train,
        MoleculeBatchSource Valid, MoleculeBatchSource Test, string Description, string Unit);

    /// <summary>Starts a new QM9 or rMD17 run.</summary>
    public static int Start(System.CommandLine.ParseResult parse, Options o, string task, string model, TrainerOptions options,
        int? hidden, int? layers, string? data, long dataSeed, int? train, int? valid, int? test, bool augment, string? initFrom = null)
    {
        string checkpoint = Path.Combine(options.OutputDirectory!, Checkpoint.DefaultFileName);
        if (File.Exists(checkpoint))
            throw new CliException($"{options.OutputDirectory} already holds a run ({checkpoint}); pass --resume to continue it, or choose another --out.");
        options.Validate();
        if (data is null)
            throw new CliException(task == "qm9" ? "--task qm9 needs --data <qm9 .npz, or a folder/.tar(.gz) of dsgdb9nsd_*.xyz files>."
                : "--task md17 needs --data <folder with rmd17_<molecule>_train|test_<NN>.npz>.");
        var (defaultHidden, defaultLayers) = MolecularModels.Defaults(model);
        string? Given(Option<string?> option) => parse.GetValue(option);
        var metadata = new Dictionary<string, string>
        {
            ["task"] = task,
            ["model"] = model,
            ["hidden"] = (hidden ?? defaultHidden).ToString(CultureInfo.InvariantCulture),
            ["layers"] = (layers ?? defaultLayers).ToString(CultureInfo.InvariantCulture),
            ["cutoff"] = (parse.GetValue(o.Cutoff) ?? (task == "md17" ? 5.0 : 10.0)).ToString("R", CultureInfo.InvariantCulture),
            ["features"] = parse.GetValue(o.Features) ?? (model == "egnn" ? "charge-powers" : "one-hot"),
            ["graph_cutoff"] = parse.GetValue(o.GraphCutoff)?.ToString("R", CultureInfo.InvariantCulture) ?? "none",
            ["data"] = Path.GetFullPath(data),
            ["data_seed"] = dataSeed.ToString(CultureInfo.InvariantCulture),
            ["augment"] = augment.ToString(),
        };
        if (task == "qm9")
        {
            metadata["target"] = Qm9.Target(parse.GetValue(o.Target)!).Name;
            metadata["normalize"] = parse.GetValue(o.Normalize)!;
            metadata["split"] = parse.GetValue(o.Split)!;
            string folder = Path.GetDirectoryName(Path.GetFullPath(data))!;
            string? atomref = Given(o.Atomref) ?? (File.Exists(Path.Combine(folder, "atomref.txt")) ? Path.Combine(folder, "atomref.txt") : null);
            string? unchar = Given(o.Uncharacterized) ?? (File.Exists(Path.Combine(folder, "uncharacterized.txt")) ? Path.Combine(folder, "uncharacterized.txt") : null);
            if (atomref is not null) metadata["atomref"] = Path.GetFullPath(atomref);
            if (unchar is not null) metadata["uncharacterized"] = Path.GetFullPath(unchar);
            var all = LoadQm9(metadata);
            var sizes = Qm9Sizes(metadata["split"], all.Count, parse.GetValue(o.Subset), train, valid, test);
            metadata["sizes"] = $"{sizes.Train},{sizes.Valid},{sizes.Test}";
        }
        else
        {
            metadata["molecule"] = parse.GetValue(o.Molecule)!;
            metadata["md17_split"] = parse.GetValue(o.Md17Split).ToString(CultureInfo.InvariantCulture);
            metadata["energy_weight"] = parse.GetValue(o.EnergyWeight).ToString("R", CultureInfo.InvariantCulture);
            metadata["force_weight"] = parse.GetValue(o.ForceWeight).ToString("R", CultureInfo.InvariantCulture);
            metadata["sizes"] = $"{train ?? 950},{valid ?? 50},{test?.ToString(CultureInfo.InvariantCulture) ?? "all"}";
        }
        var run = Build(metadata, null, "the command line");
        torch.manual_seed(options.Seed);
        // Build created the model before seeding; recreate it so that initialisation follows --seed.
        run = run with { Model = CreateModel(metadata, run.Task is EnergyForceTask) };
        if (initFrom is not null) WarmStart.Apply(run.Model, initFrom, metadata);
        using var trainer = new Trainer(run.Model, run.Task, options, metadata);
        return Fit(trainer, run);
    }

    /// <summary>Continues a molecular run from its checkpoint.</summary>
    public static int Resume(string checkpointPath, string outDir, string? dataOverride, ResumeChanges? changes = null)
    {
        var header = Checkpoint.Load(checkpointPath).Header;
        var run = Build(header.Metadata, dataOverride, checkpointPath);
        using var trainer = Trainer.Resume(checkpointPath, run.Model, run.Task, outDir, changes);
        Console.WriteLine($"resuming {checkpointPath} after epoch {trainer.CompletedEpochs} of {trainer.Options.Epochs}");
        return Fit(trainer, run);
    }

    /// <summary><c>equisharp evaluate</c> on a molecular checkpoint: the metrics on every split.</summary>
    public static int Evaluate(Checkpoint loaded, string path, bool best, string? dataOverride, int batchSize)
    {
        var run = Build(loaded.Header.Metadata, dataOverride, path);
        loaded.LoadInto(run.Model, best, path);
        var h = loaded.Header;
        Console.WriteLine($"{path}: {run.Description}; {h.CompletedEpochs} epochs ({h.StopReason?.ToString() ?? "running"}), " +
            $"{(best && loaded.BestModelState is not null ? $"best-validation weights (epoch {h.BestEpoch})" : $"weights of epoch {h.CompletedEpochs}")}");
        var names = run.Task.MetricNames;
        Console.WriteLine($"{"split",-6} {string.Join(" ", names.Select(n => $"{n,12}"))}   ({run.Unit})");
        foreach (var (split, source) in new[] { ("train", run.Train), ("valid", run.Valid), ("test", run.Test) })
        {
            var m = Trainer.Evaluate(run.Model, run.Task, source, batchSize);
            Console.WriteLine($"{split,-6} {string.Join(" ", names.Select(n => $"{Metric(m[n]),12}"))}");
        }
        return 0;
    }

    /// <summary>
    /// The batches a run trains on: with augmentation (metadata "augment", PONITA's default) every molecule is
    /// rotated by its own random rotation, positions and (rMD17) the force targets alike; energies and
    /// properties are invariant. Evaluation always uses the unrotated molecules.
    /// </summary>
    private static IBatchSource TrainingSource(Run run, IReadOnlyDictionary<string, string> metadata) =>
        NBodyCli.Augmented(metadata) ? Rotated(run.Train, forces: run.Task is EnergyForceTask) : run.Train;

    /// <summary><paramref name="train"/> with every molecule rotated by its own random rotation; the node targets (forces) rotate with it when <paramref name="forces"/>.</summary>
    internal static IBatchSource Rotated(IBatchSource train, bool forces)
    {
        var fields = new EquiSharp.Equivariance.InputFieldTypes
        {
            NodeTarget = forces ? EquiSharp.Equivariance.FieldType.Vector : EquiSharp.Equivariance.FieldType.Invariant,
        };
        return new AugmentedBatchSource(train, AugmentedBatchSource.RandomRotationPerGraph(fields));
    }

    private static int Fit(Trainer trainer, Run run)
    {
        var options = trainer.Options;
        long parameters = trainer.Model.parameters().Sum(p => p.numel());
        Console.WriteLine($"{run.Description}: {run.Name}, {parameters} parameters; {run.Train.Count}/{run.Valid.Count}/{run.Test.Count} molecules; " +
            $"{options.Optimizer} lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize}, {options.Epochs} epochs, " +
            $"validate every {options.ValidateEvery}; {TorchRuntime.Threads} thread(s); run folder {options.OutputDirectory}");
        var clock = Stopwatch.StartNew();
        string title = $"{run.Description} {run.Name}: lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize}, seed {options.Seed}";
        var result = TrainCommand.Fit(trainer, TrainingSource(run, trainer.Metadata), run.Valid, run.Test, title);
        Console.WriteLine();
        double seconds = clock.Elapsed.TotalSeconds;
        int epochsRun = trainer.History.Count(r => r.Seconds > 0) is var c && c > 0 ? c : 1;
        Console.WriteLine($"stopped: {result.StopReason} after {result.CompletedEpochs} of {options.Epochs} epochs ({TrainingDisplay.Duration(seconds)} this session; " +
            $"{trainer.History.TakeLast(Math.Max(1, epochsRun)).Average(r => r.Seconds).ToString("0.00", CultureInfo.InvariantCulture)} s per epoch incl. validation)");
        if (result.StopReason == StopReason.Cancelled)
            Console.WriteLine($"resume with: equisharp train --out {options.OutputDirectory} --resume");
        string selection = trainer.Task.SelectionMetric;
        if (result.BestEpoch is int bestEpoch)
            Console.WriteLine($"best validation {selection} {Metric(result.BestValidation![selection])} {UnitOf(selection, run.Unit)} at epoch {bestEpoch}");
        if (result.TestAtBest is { } testMetrics)
            Console.WriteLine($"test {string.Join(", ", trainer.Task.MetricNames.Select(n => $"{n} {Metric(testMetrics[n])} {UnitOf(n, run.Unit)}"))} (at best validation epoch {result.BestEpoch})");
        return result.StopReason == StopReason.Cancelled ? 130 : 0;
    }

    private static string Metric(double v) => v.ToString("G5", CultureInfo.InvariantCulture);

    /// <summary>The unit of a metric: the QM9 target's unit (squared for MSE), meV for energies, meV/Å for forces.</summary>
    private static string UnitOf(string metric, string targetUnit)
    {
        string unit = metric.StartsWith("energy", StringComparison.Ordinal) ? "meV" : metric.StartsWith("force", StringComparison.Ordinal) ? "meV/Å" : targetUnit;
        return metric.EndsWith("mse", StringComparison.Ordinal) ? $"({unit})²" : unit;
    }

    private static string Get(IReadOnlyDictionary<string, string> metadata, string key, string source) =>
        metadata.TryGetValue(key, out var v) ? v : throw new CliException($"{source} lacks metadata '{key}'; it was not written by 'equisharp train --task qm9/md17'.");

    private static MoleculeSet LoadQm9(IReadOnlyDictionary<string, string> metadata, string? dataOverride = null)
    {
        string data = dataOverride ?? metadata["data"];
        metadata.TryGetValue("atomref", out var atomref);
        var unchar = metadata.TryGetValue("uncharacterized", out var u) ? Qm9.ReadUncharacterized(u) : null;
        if (File.Exists(data) && data.EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
            return Qm9.LoadNpz(data, atomref, unchar);
        if (!File.Exists(data) && !Directory.Exists(data))
            throw new CliException($"QM9 data {data} not found.");
        if (atomref is null)
            throw new CliException($"{data}: reading QM9 .xyz files needs atomref.txt (next to the data or via --atomref).");
        return Qm9.LoadXyz(data, atomref, unchar);
    }

    private static (int Train, int Valid, int Test) Qm9Sizes(string protocol, int count, int? subset, int? train, int? valid, int? test)
    {
        if (protocol is "egnn" or "dimenet" || (protocol == "auto" && count == Qm9.CharacterizedCount && subset is null && train is null))
        {
            string p = protocol == "auto" ? "egnn" : protocol;
            if (count != Qm9.CharacterizedCount)
                throw new CliException($"--split {p} needs the full {Qm9.CharacterizedCount} characterized QM9 molecules; the data has {count}. Use --split seeded (the default for subsets).");
            return MoleculeSplit.Qm9Protocols[p];
        }
        int n = subset ?? count;
        if (n > count) throw new CliException($"--subset {n} exceeds the {count} molecules of the data.");
        int v = valid ?? n / 10, t = test ?? n / 10;
        int tr = train ?? n - v - t;
        if (tr + v + t > count)
            throw new CliException($"the split {tr}/{v}/{t} needs {tr + v + t} molecules; the data has {count}.");
        if (tr < 1 || v < 1 || t < 1) throw new CliException($"the split {tr}/{v}/{t} leaves an empty part; use more molecules.");
        return (tr, v, t);
    }

    private static nn.Module<GraphBatch, Tensor> CreateModel(IReadOnlyDictionary<string, string> metadata, bool forces, string source = "metadata")
    {
        var graph = GraphOptions(metadata, source);
        var options = new MolecularModelOptions(
            NodeChannels: graph.FeatureCount,
            Outputs: 1,
            Hidden: int.Parse(Get(metadata, "hidden", source), CultureInfo.InvariantCulture),
            Layers: int.Parse(Get(metadata, "layers", source), CultureInfo.InvariantCulture),
            Cutoff: double.Parse(Get(metadata, "cutoff", source), CultureInfo.InvariantCulture));
        var model = MolecularModels.Create(Get(metadata, "model", source), options);
        return forces ? new ForceField(model) : model;
    }

    private static MoleculeGraphOptions GraphOptions(IReadOnlyDictionary<string, string> metadata, string source)
    {
        string gc = Get(metadata, "graph_cutoff", source);
        return new MoleculeGraphOptions(
            Get(metadata, "features", source) == "one-hot" ? AtomFeatureKind.OneHot : AtomFeatureKind.ChargePowers,
            gc == "none" ? null : double.Parse(gc, CultureInfo.InvariantCulture));
    }

    private static Run Build(IReadOnlyDictionary<string, string> metadata, string? dataOverride, string source)
    {
        string task = Get(metadata, "task", source);
        string name = Get(metadata, "model", source);
        long seed = long.Parse(Get(metadata, "data_seed", source), CultureInfo.InvariantCulture);
        var sizes = Get(metadata, "sizes", source).Split(',');
        var graph = GraphOptions(metadata, source);
        if (task == "qm9")
        {
            var target = Qm9.Target(Get(metadata, "target", source));
            var all = LoadQm9(metadata, dataOverride).SelectTarget(target.Name);
            int tr = int.Parse(sizes[0], CultureInfo.InvariantCulture), v = int.Parse(sizes[1], CultureInfo.InvariantCulture), t = int.Parse(sizes[2], CultureInfo.InvariantCulture);
            var split = MoleculeSplit.Seeded(all.Count, tr, v, t, seed);
            var train = all.Subset(split.Train);
            var normalizer = TargetNormalizer.Fit(train, Get(metadata, "normalize", source) == "mad");
            var task1 = RegressionTask.GraphL1(normalizer.Scale[0]);
            return new Run(name, CreateModel(metadata, false, source), task1, new MoleculeBatchSource(train, graph, normalizer),
                new MoleculeBatchSource(all.Subset(split.Valid), graph, normalizer), new MoleculeBatchSource(all.Subset(split.Test), graph, normalizer),
                $"QM9 {target.Name}", target.Unit);
        }
        if (task == "md17")
        {
            string folder = dataOverride ?? Get(metadata, "data", source);
            string molecule = Get(metadata, "molecule", source);
            int index = int.Parse(Get(metadata, "md17_split", source), CultureInfo.InvariantCulture);
            string trainFile = Md17.FileName(folder, molecule, "train", index), testFile = Md17.FileName(folder, molecule, "test", index);
            foreach (var f in new[] { trainFile, testFile })
                if (!File.Exists(f)) throw new CliException($"rMD17 file {f} not found (--data must be the folder holding rmd17_{molecule}_train|test_{index:00}.npz).");
            var frames = Md17.Load(trainFile);
            int tr = int.Parse(sizes[0], CultureInfo.InvariantCulture), v = int.Parse(sizes[1], CultureInfo.InvariantCulture);
            var split = MoleculeSplit.Seeded(frames.Count, tr, v, 0, seed);
            var testFrames = Md17.Load(testFile);
            if (sizes[2] != "all")
                testFrames = testFrames.Subset(Enumerable.Range(0, Math.Min(testFrames.Count, int.Parse(sizes[2], CultureInfo.InvariantCulture))).ToArray());
            var train = frames.Subset(split.Train);
            var normalizer = TargetNormalizer.FitEnergyForces(train);
            var task1 = new EnergyForceTask(double.Parse(Get(metadata, "energy_weight", source), CultureInfo.InvariantCulture),
                double.Parse(Get(metadata, "force_weight", source), CultureInfo.InvariantCulture), normalizer.Scale[0]);
            return new Run(name, CreateModel(metadata, true, source), task1, new MoleculeBatchSource(train, graph, normalizer),
                new MoleculeBatchSource(frames.Subset(split.Valid), graph, normalizer), new MoleculeBatchSource(testFrames, graph, normalizer),
                $"rMD17 {molecule}", "meV for energies, meV/Å for forces, squared for MSE");
        }
        throw new CliException($"{source}: unknown molecular task '{task}'.");
    }
}
