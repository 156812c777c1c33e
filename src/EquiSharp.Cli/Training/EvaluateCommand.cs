using System.CommandLine;
using EquiSharp.Datasets.NBody;
using EquiSharp.Equivariance;
using EquiSharp.IO;
using EquiSharp.Runtime;
using EquiSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Cli.Training;

/// <summary><c>equisharp evaluate</c> and <c>equisharp predict</c>: use a trained checkpoint.</summary>
internal static class EvaluateCommand
{
    private static Option<string> CheckpointOption() => new("--checkpoint", "-c")
    {
        Description = "Checkpoint written by 'equisharp train' (e.g. runs/nbody-egnn/checkpoint.ckpt).",
        Required = true,
    };

    private static Option<string> WeightsOption()
    {
        var weights = new Option<string>("--weights") { Description = "Which weights: 'best' (best validation epoch, the reported model) or 'last' (latest epoch).", DefaultValueFactory = _ => "best" };
        weights.AcceptOnlyFromAmong("best", "last");
        return weights;
    }

    public static Command CreateEvaluate()
    {
        var checkpoint = CheckpointOption();
        var weights = WeightsOption();
        var data = new Option<string?>("--data") { Description = $"Data folder holding {NBodyCli.DataFileName}, or the QM9/rMD17 data of a molecular run (default: the one recorded in the checkpoint)." };
        var batchSize = new Option<int>("--batch-size") { Description = "Systems per evaluation batch.", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "libtorch intra-op threads.", DefaultValueFactory = _ => TorchRuntime.DefaultThreads }.AtLeast(1);
        var rotations = new Option<int>("--rotations")
        {
            Description = "N-body only: average every prediction over K rotations of the input (the identity and K - 1 Haar-random rotations, seed 1), " +
                          "test-time symmetrisation for models that are only approximately equivariant (PONITA's grid); costs K forward passes. 1: plain predictions.",
            DefaultValueFactory = _ => 1,
        }.AtLeast(1);
        var command = new Command("evaluate", "Evaluate a checkpoint on the train, validation and test splits: N-body MSE and MAE over all coordinates next to the trivial baselines; QM9 MAE in the paper's units; rMD17 energy and force errors in meV and meV/Å.")
        {
            checkpoint, weights, data, batchSize, threads, rotations,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            TorchRuntime.SetThreads(parse.GetValue(threads));
            string path = parse.GetValue(checkpoint)!;
            var loaded = Checkpoint.Load(path);
            bool best = parse.GetValue(weights) == "best";
            int averaged = parse.GetValue(rotations);
            if (loaded.Header.Metadata.TryGetValue("task", out var taskName) && taskName is "qm9" or "md17")
            {
                if (averaged != 1) throw new CliException($"--rotations applies to N-body checkpoints; {path} is a '{taskName}' run.");
                return MoleculeCli.Evaluate(loaded, path, best, parse.GetValue(data), parse.GetValue(batchSize));
            }
            var (name, plain) = NBodyCli.CreateModel(loaded.Header.Metadata, path);
            loaded.LoadInto(plain, best, path);
            nn.Module<Graphs.GraphBatch, Tensor> model = averaged == 1 ? plain
                : new RotationAveraging(plain, RotationAveraging.RandomRotations(averaged, 3, seed: 1), FieldType.Position);
            var dataset = NBodyCli.LoadForRun(loaded.Header.Metadata, parse.GetValue(data), path);
            var h = loaded.Header;
            Console.WriteLine($"{path}: {name}, {h.CompletedEpochs} epochs ({h.StopReason?.ToString() ?? "running"}), " +
                $"{(best && loaded.BestModelState is not null ? $"best-validation weights (epoch {h.BestEpoch})" : $"weights of epoch {h.CompletedEpochs}")}" +
                (averaged == 1 ? "" : $", predictions averaged over {averaged} rotations (the identity and {averaged - 1} Haar-random, seed 1)"));
            Console.WriteLine($"{"split",-6} {"MSE",10} {"MAE",10} {"no motion",10} {"const. vel.",11}");
            var task = RegressionTask.NodeMse();
            foreach (var split in Enum.GetValues<NBodySplit>())
            {
                if (dataset[split].Count == 0) continue;
                var m = Trainer.Evaluate(model, task, NBodyCli.Source(dataset, split), parse.GetValue(batchSize));
                Console.WriteLine($"{split.ToString().ToLowerInvariant(),-6} {CliSupport.F(m["mse"]),10} {CliSupport.F(m["mae"]),10} " +
                    $"{CliSupport.F(dataset.BaselineMse(split, NBodyBaseline.NoMotion)),10} {CliSupport.F(dataset.BaselineMse(split, NBodyBaseline.ConstantVelocity)),11}");
            }
            return 0;
        }));
        return command;
    }

    public static Command CreatePredict()
    {
        var checkpoint = CheckpointOption();
        var weights = WeightsOption();
        var input = new Option<string>("--input", "-i")
        {
            Description = "Input .npz with 'positions' (B, P, 3), 'velocities' (B, P, 3) and 'charges' (B, P): the state at the input frame of B systems.",
            Required = true,
        };
        var output = new Option<string>("--output", "-o") { Description = "Output .npz: 'positions' (B, P, 3) float64, the predicted positions 1000 steps (10 frames) later.", Required = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Systems per batch.", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "libtorch intra-op threads.", DefaultValueFactory = _ => TorchRuntime.DefaultThreads }.AtLeast(1);
        var command = new Command("predict", "Predict future positions of N-body systems with a trained checkpoint.")
        {
            checkpoint, weights, input, output, batchSize, threads,
        };
        command.SetAction(parse => CliSupport.Guard(() =>
        {
            TorchRuntime.SetThreads(parse.GetValue(threads));
            string path = parse.GetValue(checkpoint)!;
            var loaded = Checkpoint.Load(path);
            var (name, model) = NBodyCli.CreateModel(loaded.Header.Metadata, path);
            loaded.LoadInto(model, parse.GetValue(weights) == "best", path);
            string inputPath = parse.GetValue(input)!;
            if (!File.Exists(inputPath)) throw new CliException($"input file {inputPath} not found.");
            var graphs = NBodyCli.ReadInputs(inputPath);
            long systems = graphs.Count, particles = graphs.Count > 0 ? graphs[0].NumNodes : 0;
            var result = new double[systems * particles * 3];
            int batch = parse.GetValue(batchSize);
            model.eval();
            using (torch.no_grad())
            {
                for (int start = 0; start < graphs.Count; start += batch)
                {
                    using var scope = torch.NewDisposeScope();
                    using var b = Graphs.GraphBatch.FromGraphs(graphs.Skip(start).Take(batch).ToList());
                    var predicted = model.forward(b).to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
                    predicted.CopyTo(result, start * particles * 3);
                }
            }
            string outputPath = parse.GetValue(output)!;
            Npz.Save(outputPath, new[] { new KeyValuePair<string, NpyArray>("positions", NpyArray.Of(result, systems, particles, 3)) });
            Console.WriteLine($"{outputPath}: predicted positions of {systems} systems x {particles} particles with {name} ({path})");
            return 0;
        }));
        return command;
    }
}
