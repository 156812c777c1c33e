using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EquiSharp.IO;
using EquiSharp.Training;

namespace EquiSharp.Cli.Training;

/// <summary>Option validators and error handling shared by the training commands.</summary>
internal static class CliSupport
{
    /// <summary>Requires an integer ≥ <paramref name="min"/>.</summary>
    public static Option<int> AtLeast(this Option<int> option, int min)
    {
        option.Validators.Add(r =>
        {
            int v = r.GetValueOrDefault<int>();
            if (v < min) r.AddError($"{r.Option.Name} must be at least {min}, got {v}.");
        });
        return option;
    }

    /// <summary>Requires an optional integer to be ≥ <paramref name="min"/> when given.</summary>
    public static Option<int?> AtLeast(this Option<int?> option, int min)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int v && v < min) r.AddError($"{r.Option.Name} must be at least {min}, got {v}.");
        });
        return option;
    }

    /// <summary>Requires a finite number that is positive (or ≥ 0 when <paramref name="allowZero"/>).</summary>
    public static Option<double> Positive(this Option<double> option, bool allowZero = false)
    {
        option.Validators.Add(r =>
        {
            double v = r.GetValueOrDefault<double>();
            if (!double.IsFinite(v) || v < 0 || (!allowZero && v == 0))
                r.AddError($"{r.Option.Name} must be a {(allowZero ? "non-negative" : "positive")} finite number, got {v.ToString(CultureInfo.InvariantCulture)}.");
        });
        return option;
    }

    /// <summary>Requires an optional number to be positive and finite when given.</summary>
    public static Option<double?> Positive(this Option<double?> option)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is double v && (!double.IsFinite(v) || v <= 0))
                r.AddError($"{r.Option.Name} must be a positive finite number, got {v.ToString(CultureInfo.InvariantCulture)}.");
        });
        return option;
    }

    /// <summary>True when the user typed the option (not just its default).</summary>
    public static bool WasGiven(this ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>
    /// Runs a command body; user errors (bad files, bad checkpoints, invalid values) become one
    /// "error: …" line on stderr and exit code 1 instead of a stack trace.
    /// </summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is CliException or CheckpointException or NpyFormatException or FileNotFoundException
                                      or DirectoryNotFoundException or ArgumentException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Formats a metric value.</summary>
    public static string F(double v) => v.ToString("0.000000", CultureInfo.InvariantCulture);
}
