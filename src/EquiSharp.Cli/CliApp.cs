using System.CommandLine;
using EquiSharp.Cli.Demo;
using EquiSharp.Cli.Training;

namespace EquiSharp.Cli;

/// <summary>The command tree of the <c>equisharp</c> tool.</summary>
internal static class CliApp
{
    public static RootCommand BuildRoot() => new("equisharp: geometric and equivariant message passing neural networks on TorchSharp.")
    {
        TrainCommand.Create(),
        EvaluateCommand.CreateEvaluate(),
        EvaluateCommand.CreatePredict(),
        NBodyCommand.Create(),
        DemoCommand.Create(),
    };

    /// <summary>
    /// Parses and runs. Invalid command lines print only their errors and a pointer to --help on
    /// stderr (exit code 2) instead of the whole help text.
    /// </summary>
    public static int Run(string[] args)
    {
        var parse = BuildRoot().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                Console.Error.WriteLine($"error: {error.Message}");
            var names = new List<string>();
            for (var c = parse.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
                if (c.Command is not RootCommand) names.Insert(0, c.Command.Name);
            Console.Error.WriteLine($"see: equisharp {string.Join(" ", names)}{(names.Count > 0 ? " " : "")}--help");
            return 2;
        }
        return parse.Invoke();
    }
}
