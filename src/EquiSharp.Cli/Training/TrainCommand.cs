using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EquiSharp.Datasets.NBody;
using EquiSharp.Models;
using EquiSharp.Runtime;
using EquiSharp.Training;
using TorchSharp;

namespace EquiSharp.Cli.Training;

/// <summary>
/// <c>equisharp train</c>: trains a model on a task with the <see cref="Trainer"/>, writing checkpoint,
/// metrics and learning curve into the run folder; <c>--resume</c> continues a stopped run exactly.
/// </summary>
internal static class TrainCommand
{
    /// <summary>Epochs of the <c>--quick</c> preset.</summary>
    public const int QuickEpochs = 100;

    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "Task: nbody (charged-particle N-body, positions at frame 30 -> frame 40, MSE), qm9 (one QM9 property, L1, MAE in the paper's units), md17 (rMD17 energies and forces). See docs/molecules.md.", DefaultValueFactory = _ => "nbody" };
        task.AcceptOnlyFromAmong("nbody", "qm9", "md17");
        var model = new Option<string>("--model") { Description = "Model: egnn (E(n)-equivariant GNN), gnn (plain message passing), linear (one linear layer [x, v] -> x), linear-vel (x + t v with a learned t), segnn (steerable non-linear message passing), tfn (Tensor Field Network, steerable linear convolution), ponita (PONITA on position-orientation space R3 x S2), lieconv (LieConv on SE(3) lifts); for qm9/md17: egnn, schnet, mpnn, pointconv, segnn (SEGNN's QM9 model), ponita.", DefaultValueFactory = _ => "egnn" };
        model.AcceptOnlyFromAmong(NBodyModels.Names.Concat(MolecularModels.Names).Distinct().ToArray());
        var hidden = new Option<int>("--hidden") { Description = "Hidden width (default: the model's reference: 64; ponita 128; qm9/md17 models: see docs/molecules.md); tfn: H gives (H/2)x0e+(H/4)x1o+(H/8)x2e; segnn: scalar features its hidden irreps are balanced to (64 -> 32x0e+32x1o).", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var layers = new Option<int>("--layers") { Description = "Message passing layers (default: the model's reference: 4; ponita 5).", DefaultValueFactory = _ => 4 }.AtLeast(1);
        var orientations = new Option<int>("--orientations") { Description = "ponita: points of the orientation grid on the sphere (repulsion-optimised).", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var basisDim = new Option<int>("--basis-dim") { Description = "ponita: width of the basis networks (reference 256; the dominant cost is proportional to it).", DefaultValueFactory = _ => 256 }.AtLeast(1);
        var augment = new Option<bool>("--augment") { Description = "Rotate every training system (or molecule; rMD17 forces rotate with it) by its own random rotation (default: the model's reference; on for ponita)." };
        var calibrate = new Option<bool>("--calibrate") { Description = "ponita: rescale the kernels at the first training batch as the reference code does (default: on; --calibrate false turns it off)." };
        var data = new Option<string?>("--data") { Description = $"Data folder holding {NBodyCli.DataFileName}; simulated there (with --data-seed and the split sizes) if absent. Default: runs/data/nbody-s<data-seed>-<train>-<valid>-<test>." };
        var dataSeed = new Option<long>("--data-seed") { Description = "Seed of the simulation when data is generated (43 as in the reference code).", DefaultValueFactory = _ => 43 };
        dataSeed.Validators.Add(r =>
        {
            long v = r.GetValueOrDefault<long>();
            if (v < int.MinValue || v > int.MaxValue) r.AddError($"--data-seed must fit in 32 bits, got {v}.");
        });
        var trainSize = new Option<int>("--train") { Description = "Training trajectories when generating data.", DefaultValueFactory = _ => 3000 }.AtLeast(1);
        var validSize = new Option<int>("--valid") { Description = "Validation trajectories when generating data.", DefaultValueFactory = _ => 2000 }.AtLeast(1);
        var testSize = new Option<int>("--test") { Description = "Test trajectories when generating data.", DefaultValueFactory = _ => 2000 }.AtLeast(1);
        var epochs = new Option<int>("--epochs") { Description = $"Training epochs (default: the reference's, 10000; 1000 for segnn and for qm9/md17; --quick: {QuickEpochs}).", DefaultValueFactory = _ => 10000 }.AtLeast(1);
        var quick = new Option<bool>("--quick") { Description = $"Short demonstration run: {QuickEpochs} epochs (unless --epochs is given), everything else as in the reference protocol." };
        var batchSize = new Option<int>("--batch-size") { Description = "Systems per mini-batch.", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "Base learning rate (default: the reference's, 1e-3 for gnn and ponita, 5e-4 for the other models)." }.Positive();
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay (L2 for adam, decoupled for adamw; default: the reference's, 1e-12; ponita 1e-10).", DefaultValueFactory = _ => 1e-12 }.Positive(allowZero: true);
        var optimizer = new Option<string>("--optimizer") { Description = "Optimiser: adam or adamw.", DefaultValueFactory = _ => "adam" };
        optimizer.AcceptOnlyFromAmong("adam", "adamw");
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule: constant, or cosine (decays to --min-lr at the last epoch); both after --warmup epochs of linear warm-up (default: the model's reference; ponita cosine).", DefaultValueFactory = _ => "constant" };
        schedule.AcceptOnlyFromAmong("constant", "cosine");
        var warmup = new Option<int>("--warmup") { Description = "Epochs of linear learning-rate warm-up (default: the model's reference; ponita 10).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var scheduleUnit = new Option<string>("--schedule-unit") { Description = "Update the learning rate every optimiser 'step' (smooth) or once per 'epoch'.", DefaultValueFactory = _ => "step" };
        scheduleUnit.AcceptOnlyFromAmong("step", "epoch");
        var minLr = new Option<double>("--min-lr") { Description = "Final learning rate of the cosine schedule and of the constant schedule's --cooldown.", DefaultValueFactory = _ => 0 }.Positive(allowZero: true);
        var cooldown = new Option<int>("--cooldown") { Description = "Constant schedule: decay the rate along a half cosine to --min-lr over the last N epochs (warm-up, stable, decay). With --resume it can be added to a constant-rate run, or moved, as long as it begins after the completed epochs.", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var clip = new Option<double?>("--clip") { Description = "Clip the total gradient L2 norm to this value (default: the model's reference; none, ponita 0.5)." }.Positive();
        var ema = new Option<double?>("--ema") { Description = "Keep an exponential moving average of the weights with this decay (e.g. 0.999) and validate, test and save it instead of the last weights (default: off)." }.Positive();
        var validateEvery = new Option<int>("--validate-every") { Description = "Validate every k epochs (and after the last); the test MSE is reported at the best validation epoch.", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var patience = new Option<int?>("--patience") { Description = "Early stopping: stop after this many validations without improvement (default: never)." }.AtLeast(1);
        var seed = new Option<long>("--seed") { Description = "Seed of initialisation and shuffling (shuffling of epoch e is derived from (seed, e)).", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "libtorch intra-op threads (1 is fastest for these small graphs).", DefaultValueFactory = _ => TorchRuntime.DefaultThreads }.AtLeast(1);
        var workers = new Option<int>("--workers") { Description = "Threads for simulating data.", DefaultValueFactory = _ => Environment.ProcessorCount }.AtLeast(1);
        var output = new Option<string>("--out", "-o") { Description = "Run folder for checkpoint.ckpt, metrics.csv, metrics.json and learning_curve.png. Default: runs/<task>-<model> (or the first free runs/<task>-<model>-2, -3, ... when starting a new run)." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint; options, model and data come from the checkpoint (--epochs, --cooldown, --patience and --no-early-stop may change its length, cooldown and early stopping, which also restarts a finished run). Gives the same result as an uninterrupted run." };
        var noEarlyStop = new Option<bool>("--no-early-stop") { Description = "With --resume: turn the run's early stopping off (it trains on until --epochs)." };
        var initFrom = new Option<string?>("--init-from") { Description = "Start a new run from the weights another run's checkpoint validated and tested (its best-validation weights): fine-tuning, or a warm restart with a fresh optimiser, schedule and weight average. The model given on the command line must have the same parameters (names and shapes)." };

        var command = new Command("train", "Train a model (default: EGNN on the charged-particle N-body benchmark with the reference hyper-parameters) and report the test MSE at the best validation epoch. Ctrl+C stops after the current epoch with a resumable checkpoint.")
        {
            task, model, hidden, layers, orientations, basisDim, augment, calibrate, data, dataSeed, trainSize, validSize, testSize, epochs, quick, batchSize, lr, weightDecay,
            optimizer, schedule, warmup, scheduleUnit, minLr, cooldown, clip, ema, validateEvery, patience, seed, threads, workers, output, resume, noEarlyStop, initFrom,
        };
        var molecules = new MoleculeCli.Options();
        foreach (var option in molecules.All) command.Options.Add(option);
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            string modelName = parse.GetValue(model)!;
            string outDir = parse.GetValue(output) ?? Path.Combine("runs", $"{parse.GetValue(task)}-{modelName}");
            if (!parse.WasGiven(output) && !parse.GetValue(resume))
            {
                // The default folder never clobbers an earlier run: runs/nbody-egnn, runs/nbody-egnn-2, ...
                string baseDir = outDir;
                for (int k = 2; File.Exists(Path.Combine(outDir, Checkpoint.DefaultFileName)); k++)
                    outDir = $"{baseDir}-{k}";
            }
            TorchRuntime.SetThreads(parse.GetValue(threads));
            if (parse.GetValue(noEarlyStop) && !parse.GetValue(resume))
                throw new CliException("--no-early-stop changes a run being resumed; a new run has no early stopping unless --patience is given.");
            if (parse.WasGiven(initFrom) && parse.GetValue(resume))
                throw new CliException("--init-from starts a new run from another run's weights; --resume continues the run in --out from its own checkpoint.");
            if (parse.GetValue(resume))
            {
                var ignored = new Option[] { model, hidden, layers, orientations, basisDim, augment, calibrate, dataSeed, trainSize, validSize, testSize, quick, batchSize, lr,
                    weightDecay, optimizer, schedule, warmup, scheduleUnit, minLr, clip, ema, validateEvery, seed }.Where(parse.WasGiven).ToArray();
                if (ignored.Length > 0)
                    Console.Error.WriteLine($"note: --resume takes the run's settings from its checkpoint (except --epochs, --cooldown and --patience); ignoring {string.Join(", ", ignored.Select(o => o.Name))}.");
                var changes = new ResumeChanges
                {
                    Epochs = parse.WasGiven(epochs) ? parse.GetValue(epochs) : null,
                    CooldownEpochs = parse.WasGiven(cooldown) ? parse.GetValue(cooldown) : null,
                    Patience = parse.WasGiven(patience) ? parse.GetValue(patience) : null,
                    NoEarlyStopping = parse.GetValue(noEarlyStop),
                };
                return Resume(outDir, parse.GetValue(data), changes);
            }
            if (parse.GetValue(task) == "nbody")
            {
                var moleculeOnly = molecules.All.Where(parse.WasGiven).ToArray();
                if (moleculeOnly.Length > 0)
                    throw new CliException($"{string.Join(", ", moleculeOnly.Select(o => o.Name))} only apply to --task qm9/md17.");
            }

            string taskName = parse.GetValue(task)!;
            bool molecular = taskName != "nbody";
            if (molecular)
            {
                MoleculeCli.CheckModel(taskName, modelName);
                var nbodyOnly = new Option[] { orientations, basisDim, calibrate }.Where(parse.WasGiven).ToArray();
                if (nbodyOnly.Length > 0)
                    throw new CliException($"{string.Join(", ", nbodyOnly.Select(o => o.Name))} only apply to --task nbody.");
            }
            var reference = NBodyCli.Reference(modelName);
            int epochCount = parse.GetValue(quick) && !parse.WasGiven(epochs) ? QuickEpochs
                : !parse.WasGiven(epochs) ? (molecular ? MoleculeCli.DefaultEpochs : reference.Epochs) : parse.GetValue(epochs);
            int warmupEpochs = parse.WasGiven(warmup) ? parse.GetValue(warmup) : Math.Min(reference.WarmupEpochs, epochCount - 1);
            if (warmupEpochs >= epochCount)
                throw new CliException($"--warmup ({warmupEpochs}) must be smaller than the number of epochs ({epochCount}).");
            double learningRate = parse.WasGiven(lr) ? parse.GetValue(lr)
                : molecular ? molecules.ReferenceLearningRate(parse, taskName) : reference.LearningRate;
            if (parse.GetValue(minLr) > learningRate)
                throw new CliException($"--min-lr ({parse.GetValue(minLr)}) must not exceed --lr ({learningRate}).");
            var scheduleKind = (parse.WasGiven(schedule) ? parse.GetValue(schedule) == "cosine" : reference.Cosine) ? LearningRateSchedule.Cosine : LearningRateSchedule.Constant;
            int cooldownEpochs = parse.GetValue(cooldown);
            if (cooldownEpochs > 0 && scheduleKind != LearningRateSchedule.Constant)
                throw new CliException($"--cooldown applies to --schedule constant; the {modelName} run's schedule is cosine (give --schedule constant).");
            if (cooldownEpochs > epochCount - warmupEpochs)
                throw new CliException($"--cooldown ({cooldownEpochs}) must not exceed the epochs after the warm-up ({epochCount} - {warmupEpochs}).");
            var options = new TrainerOptions
            {
                Epochs = epochCount,
                BatchSize = molecular && !parse.WasGiven(batchSize) ? MoleculeCli.DefaultBatchSize(taskName) : parse.GetValue(batchSize),
                LearningRate = learningRate,
                WeightDecay = parse.WasGiven(weightDecay) ? parse.GetValue(weightDecay) : reference.WeightDecay,
                Optimizer = parse.GetValue(optimizer) == "adamw" ? OptimizerKind.AdamW : OptimizerKind.Adam,
                Schedule = scheduleKind,
                WarmupEpochs = warmupEpochs,
                CooldownEpochs = cooldownEpochs,
                ScheduleGranularity = parse.GetValue(scheduleUnit) == "epoch" ? ScheduleGranularity.Epoch : ScheduleGranularity.Step,
                MinLearningRate = parse.GetValue(minLr),
                GradientClipNorm = parse.WasGiven(clip) ? parse.GetValue(clip) : reference.Clip,
                EmaDecay = parse.GetValue(ema),
                ValidateEvery = parse.GetValue(validateEvery),
                Patience = parse.GetValue(patience),
                Seed = parse.GetValue(seed),
                OutputDirectory = outDir,
            };
            if (molecular)
                return MoleculeCli.Start(parse, molecules, taskName, modelName, options,
                    parse.WasGiven(hidden) ? parse.GetValue(hidden) : null, parse.WasGiven(layers) ? parse.GetValue(layers) : null,
                    parse.GetValue(data), parse.WasGiven(dataSeed) ? parse.GetValue(dataSeed) : 0,
                    parse.WasGiven(trainSize) ? parse.GetValue(trainSize) : null, parse.WasGiven(validSize) ? parse.GetValue(validSize) : null,
                    parse.WasGiven(testSize) ? parse.GetValue(testSize) : null,
                    parse.WasGiven(augment) ? parse.GetValue(augment) : reference.Augment, parse.GetValue(initFrom));
            var sizes = new NBodySplitSizes(parse.GetValue(trainSize), parse.GetValue(validSize), parse.GetValue(testSize));
            long simSeed = parse.GetValue(dataSeed);
            string dataDir = parse.GetValue(data) ?? NBodyCli.DefaultDataFolder(simSeed, sizes);
            bool[] checkSizes = [parse.WasGiven(trainSize), parse.WasGiven(validSize), parse.WasGiven(testSize)];
            var modelOptions = NBodyCli.ModelOptions(parse.WasGiven(hidden) ? parse.GetValue(hidden) : reference.Hidden,
                parse.WasGiven(layers) ? parse.GetValue(layers) : reference.Layers, parse.GetValue(orientations), parse.GetValue(basisDim),
                parse.WasGiven(calibrate) ? parse.GetValue(calibrate) : reference.Calibrate);
            bool augmentBatches = parse.WasGiven(augment) ? parse.GetValue(augment) : reference.Augment;
            return Start(options, modelName, modelOptions, augmentBatches, dataDir, simSeed, sizes,
                parse.WasGiven(dataSeed), checkSizes, parse.GetValue(workers), parse.GetValue(initFrom));
        }));
        return command;
    }

    private static int Start(TrainerOptions options, string modelName, NBodyModelOptions modelOptions, bool augment, string dataDir, long dataSeed,
        NBodySplitSizes sizes, bool checkSeed, bool[] checkSizes, int workers, string? initFrom)
    {
        string checkpoint = Path.Combine(options.OutputDirectory!, Checkpoint.DefaultFileName);
        if (File.Exists(checkpoint))
            throw new CliException($"{options.OutputDirectory} already holds a run ({checkpoint}); pass --resume to continue it, or choose another --out.");
        options.Validate();
        var dataset = NBodyCli.LoadOrGenerate(dataDir, dataSeed, sizes, checkSeed, checkSizes, workers, Console.WriteLine);
        torch.manual_seed(options.Seed);
        var model = NBodyModels.Create(modelName, modelOptions);
        var metadata = NBodyCli.Metadata(modelName, modelOptions, dataDir, dataset.Seed,
            new NBodySplitSizes(dataset.Train.Count, dataset.Valid.Count, dataset.Test.Count));
        metadata["augment"] = augment.ToString();
        metadata[NBodyCli.AugmentRotationsKey] = NBodyCli.PerSystemRotations;
        if (initFrom is not null) WarmStart.Apply(model, initFrom, metadata);
        using var trainer = new Trainer(model, RegressionTask.NodeMse(), options, metadata);
        return Run(trainer, dataset, modelName);
    }

    private static int Resume(string outDir, string? dataDir, ResumeChanges changes)
    {
        string path = Path.Combine(outDir, Checkpoint.DefaultFileName);
        var header = Checkpoint.Load(path).Header;
        try
        {
            changes.ApplyTo(header.Options, header.CompletedEpochs); // refuse a change before the model and data are built
        }
        catch (ArgumentException e)
        {
            throw new CliException($"{path}: {e.Message}");
        }
        if (header.Metadata.TryGetValue("task", out var taskName) && taskName != "nbody")
            return MoleculeCli.Resume(path, outDir, dataDir, changes);
        var (modelName, model) = NBodyCli.CreateModel(header.Metadata, path);
        var dataset = NBodyCli.LoadForRun(header.Metadata, dataDir, path);
        using var trainer = Trainer.Resume(path, model, RegressionTask.NodeMse(), outDir, changes);
        Console.WriteLine($"resuming {path} after epoch {trainer.CompletedEpochs} of {trainer.Options.Epochs}");
        return Run(trainer, dataset, modelName);
    }

    private static int Run(Trainer trainer, NBodyDataset dataset, string modelName)
    {
        var options = trainer.Options;
        long parameters = trainer.Model.parameters().Sum(p => p.numel());
        Console.WriteLine($"N-body (5 charged particles, frames 30 -> 40): {modelName}, {parameters} parameters; {dataset.Train.Count}/{dataset.Valid.Count}/{dataset.Test.Count} trajectories; " +
            $"{options.Optimizer} lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, weight decay {options.WeightDecay.ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize}, " +
            $"{(options.EmaDecay is double decay ? $"weight EMA {decay.ToString(CultureInfo.InvariantCulture)}, " : "")}{options.Epochs} epochs{(options.CooldownEpochs > 0 ? $" (the last {options.CooldownEpochs} a cooldown)" : "")}, validate every {options.ValidateEvery}; {TorchRuntime.Threads} thread(s); run folder {options.OutputDirectory}");

        var clock = Stopwatch.StartNew();
        string title = $"N-body {modelName}: {options.Optimizer} lr {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {options.BatchSize}, seed {options.Seed}";
        var result = Fit(trainer, NBodyCli.TrainingSource(dataset, NBodyCli.Augmented(trainer.Metadata), NBodyCli.RotatesPerSystem(trainer.Metadata)), NBodyCli.Source(dataset, NBodySplit.Valid),
            NBodyCli.Source(dataset, NBodySplit.Test), title);

        Console.WriteLine();
        Console.WriteLine($"stopped: {result.StopReason} after {result.CompletedEpochs} of {options.Epochs} epochs ({TrainingDisplay.Duration(clock.Elapsed.TotalSeconds)} this session)");
        if (result.StopReason == StopReason.Cancelled)
            Console.WriteLine($"resume with: equisharp train --out {options.OutputDirectory} --resume");
        if (result.BestEpoch is int best)
            Console.WriteLine($"best validation MSE {CliSupport.F(result.BestValidation!["mse"])} at epoch {best}");
        double noMotion = dataset.BaselineMse(NBodySplit.Test, NBodyBaseline.NoMotion);
        double constantVelocity = dataset.BaselineMse(NBodySplit.Test, NBodyBaseline.ConstantVelocity);
        Console.WriteLine($"test baselines: no motion {CliSupport.F(noMotion)}, constant velocity {CliSupport.F(constantVelocity)}{(NBodyCli.Published.TryGetValue(modelName, out var published) ? $"; published {modelName} ({NBodyCli.Reference(modelName).Epochs} epochs): {published.ToString(CultureInfo.InvariantCulture)}" : "")}");
        Console.WriteLine($"files: {string.Join(", ", new[] { Checkpoint.DefaultFileName, "metrics.csv", "metrics.json", LearningCurvePlot.FileName }.Select(f => Path.Combine(options.OutputDirectory!, f)))}");
        if (result.TestAtBest is not null)
            Console.WriteLine($"test MSE {CliSupport.F(result.TestAtBest["mse"])} (at best validation epoch {result.BestEpoch})");
        return result.StopReason == StopReason.Cancelled ? 130 : 0; // 130: interrupted (as a shell reports SIGINT)
    }

    /// <summary>
    /// Runs <see cref="Trainer.Fit(IBatchSource, IBatchSource, IBatchSource?, CancellationToken)"/> with the live display,
    /// Ctrl+C handling (stop after the epoch, resumable) and the learning-curve plot (refreshed every minute).
    /// </summary>
    internal static TrainingResult Fit(Trainer trainer, IBatchSource train, IBatchSource valid, IBatchSource? test, string title)
    {
        var options = trainer.Options;
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return; // second Ctrl+C: terminate at once (resume from the last checkpoint)
            e.Cancel = true;
            cts.Cancel();
            Console.Error.WriteLine("stopping after the current epoch (checkpoint follows); press Ctrl+C again to kill");
        };
        Console.CancelKeyPress += onCancel;
        var lastPlot = Stopwatch.StartNew();
        string plotPath = Path.Combine(options.OutputDirectory!, LearningCurvePlot.FileName);
        trainer.EpochCompleted += record =>
        {
            if (record.Validation is not null && lastPlot.Elapsed.TotalSeconds > 60)
            {
                TryPlot(plotPath, trainer, title);
                lastPlot.Restart();
            }
        };
        TrainingResult result;
        try
        {
            var display = new TrainingDisplay(trainer);
            result = display.Run(() => trainer.Fit(train, valid, test, cts.Token));
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        TryPlot(plotPath, trainer, title);
        return result;
    }

    private static void TryPlot(string path, Trainer trainer, string title)
    {
        try
        {
            LearningCurvePlot.Save(path, trainer.History, trainer.Task.SelectionMetric, title);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The plot is a convenience: training results are in metrics.csv/json either way.
            Console.Error.WriteLine($"warning: could not write {path}: {e.Message}");
        }
    }
}
