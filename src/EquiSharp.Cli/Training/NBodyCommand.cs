using System.CommandLine;
using EquiSharp.Datasets.NBody;

namespace EquiSharp.Cli.Training;

/// <summary><c>equisharp nbody generate</c>: simulate the charged-particle data set.</summary>
internal static class NBodyCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = $"Folder to write {NBodyCli.DataFileName} into (created if needed; an existing file is replaced atomically).", Required = true };
        var seed = new Option<long>("--seed") { Description = "Simulation seed (the reference code used 43).", DefaultValueFactory = _ => 43 };
        seed.Validators.Add(r =>
        {
            long v = r.GetValueOrDefault<long>();
            if (v < int.MinValue || v > int.MaxValue) r.AddError($"--seed must fit in 32 bits, got {v}.");
        });
        var train = new Option<int>("--train") { Description = "Training trajectories.", DefaultValueFactory = _ => 3000 }.AtLeast(0);
        var valid = new Option<int>("--valid") { Description = "Validation trajectories.", DefaultValueFactory = _ => 2000 }.AtLeast(0);
        var test = new Option<int>("--test") { Description = "Test trajectories.", DefaultValueFactory = _ => 2000 }.AtLeast(0);
        var stream = new Option<string>("--stream")
        {
            Description = "Random stream: 'splitmix' (EquiSharp's, parallel) or 'numpy' (the official EGNN generator's NumPy stream: " +
                "with --seed 43 and the default sizes, the charges and initial states of the data set EGNN, SEGNN and PONITA reported on; " +
                "validation and test are drawn after 10,000 training trajectories, as the reference did).",
            DefaultValueFactory = _ => "splitmix",
        };
        stream.AcceptOnlyFromAmong("splitmix", "numpy");
        seed.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long>() < 0 && r.Parent?.GetValue(stream) == "numpy") r.AddError("--stream numpy needs a non-negative --seed (NumPy's rule).");
        });
        var workers = new Option<int>("--workers") { Description = "Simulation threads.", DefaultValueFactory = _ => Environment.ProcessorCount }.AtLeast(1);
        var generate = new Command("generate", "Simulate train/validation/test trajectories of 5 charged particles (the EGNN/SEGNN/PONITA benchmark protocol) and save them as one .npz; prints the no-motion and constant-velocity baselines.")
        {
            output, seed, train, valid, test, stream, workers,
        };
        generate.SetAction(parse => CliSupport.Guard(() =>
        {
            var sizes = new NBodySplitSizes(parse.GetValue(train), parse.GetValue(valid), parse.GetValue(test));
            var dataset = NBodyCli.Generate(parse.GetValue(output)!, parse.GetValue(seed), sizes, parse.GetValue(workers), Console.WriteLine,
                parse.GetValue(stream) == "numpy" ? NBodyRandomStream.NumPyReference : NBodyRandomStream.SplitMix64);
            Console.WriteLine($"{"split",-6} {"systems",8} {"no motion MSE",14} {"const. vel. MSE",16}");
            foreach (var split in Enum.GetValues<NBodySplit>())
            {
                if (dataset[split].Count == 0) continue;
                Console.WriteLine($"{split.ToString().ToLowerInvariant(),-6} {dataset[split].Count,8} {CliSupport.F(dataset.BaselineMse(split, NBodyBaseline.NoMotion)),14} " +
                    $"{CliSupport.F(dataset.BaselineMse(split, NBodyBaseline.ConstantVelocity)),16}");
            }
            return 0;
        }));
        return new Command("nbody", "Charged-particle N-body data (frames 30 -> 40 benchmark).") { generate };
    }
}
