using System.Globalization;
using System.Text;

namespace EquiSharp.Equivariance;

/// <summary>One compared output in one check sample.</summary>
/// <param name="Check">The check: rotation, reflection, translation, permutation, combined, batching.</param>
/// <param name="Sample">Index of the random sample within the check.</param>
/// <param name="Transform">The transform applied, e.g. "SO(3) 112.3°", "perm N=12 E=40", "graph 0 at 2 of 3".</param>
/// <param name="Output">The output's name, level and type.</param>
/// <param name="MaxAbsError">max |actual − expected|; +∞ on a shape mismatch, NaN if the outputs hold NaN.</param>
/// <param name="RelativeError">MaxAbsError / Scale (0 when both are 0).</param>
/// <param name="Scale">max(max|expected|, max|actual|).</param>
/// <param name="Tolerance">The allowed absolute error: AbsoluteTolerance + RelativeTolerance · Scale.</param>
/// <param name="Passed">MaxAbsError ≤ Tolerance (false for NaN or shape mismatch).</param>
/// <param name="Note">Why a case failed beyond the numbers (shape mismatch, NaN, float32), a remark on a passing case ("zero output: vacuous"), or null.</param>
public sealed record EquivarianceCase(string Check, int Sample, string Transform, string Output, double MaxAbsError,
    double RelativeError, double Scale, double Tolerance, bool Passed, string? Note = null);

/// <summary>The result of an equivariance check: every case, printable as a table.</summary>
public sealed class EquivarianceReport
{
    /// <summary>Creates a report from its cases.</summary>
    public EquivarianceReport(IReadOnlyList<EquivarianceCase> cases, string? title = null)
    {
        Cases = cases ?? throw new ArgumentNullException(nameof(cases));
        Title = title ?? "Equivariance check";
    }

    /// <summary>A heading for the table (the model or function checked).</summary>
    public string Title { get; }

    /// <summary>All compared cases, in the order they ran.</summary>
    public IReadOnlyList<EquivarianceCase> Cases { get; }

    /// <summary>True when every case passed (and there is at least one).</summary>
    public bool Passed => Cases.Count > 0 && Cases.All(c => c.Passed);

    /// <summary>The failed cases.</summary>
    public IReadOnlyList<EquivarianceCase> Failures => Cases.Where(c => !c.Passed).ToArray();

    /// <summary>The distinct checks that failed (e.g. "rotation", "batching").</summary>
    public IReadOnlyList<string> FailedChecks => Failures.Select(c => c.Check).Distinct().ToArray();

    /// <summary>True if any case of <paramref name="check"/> failed.</summary>
    public bool Failed(string check) => Cases.Any(c => c.Check == check && !c.Passed);

    /// <summary>The largest relative error over all cases (NaN propagates).</summary>
    public double MaxRelativeError => Cases.Count == 0 ? 0 : Cases.Max(c => double.IsNaN(c.RelativeError) ? double.PositiveInfinity : c.RelativeError);

    /// <summary>A fixed-width table of the cases (all, or only the failures), with a summary line.</summary>
    public string ToTable(bool failuresOnly = false)
    {
        var rows = (failuresOnly ? Failures : Cases).ToList();
        string[] header = { "check", "#", "transform", "output", "max abs err", "rel err", "tolerance", "result" };
        var cells = rows.Select(c => new[]
        {
            c.Check, c.Sample.ToString(CultureInfo.InvariantCulture), c.Transform, c.Output,
            Num(c.MaxAbsError), Num(c.RelativeError), Num(c.Tolerance),
            (c.Passed ? "ok" : "FAIL") + (c.Note is null ? "" : " (" + c.Note + ")"),
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        int failed = Cases.Count(c => !c.Passed);
        sb.AppendLine($"{Title}: {(Passed ? "PASSED" : "FAILED")} ({Cases.Count - failed}/{Cases.Count} cases passed"
            + (failed > 0 ? $"; failed checks: {string.Join(", ", FailedChecks)}" : "") + ")");
        void Line(string[] r) => sb.AppendLine(string.Join(" | ", r.Select((x, i) => i >= 4 && i <= 6 ? x.PadLeft(widths[i]) : x.PadRight(widths[i]))).TrimEnd());
        Line(header);
        sb.AppendLine(string.Join("-+-", widths.Select(w => new string('-', w))));
        foreach (var r in cells) Line(r);
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => ToTable();

    /// <summary>Throws <see cref="EquivarianceException"/> (with the failing cases in its message) unless every case passed.</summary>
    public void ThrowIfFailed()
    {
        if (!Passed) throw new EquivarianceException(this);
    }

    private static string Num(double x) =>
        double.IsNaN(x) ? "NaN" : double.IsPositiveInfinity(x) ? "inf" : x.ToString("0.00e+00", CultureInfo.InvariantCulture);
}

/// <summary>Thrown by the Assert methods of <see cref="EquivarianceChecker"/> when a case fails; carries the full report.</summary>
public sealed class EquivarianceException : Exception
{
    /// <summary>Creates the exception for a failed report.</summary>
    public EquivarianceException(EquivarianceReport report)
        : base(BuildMessage(report)) => Report = report;

    /// <summary>The full report (passed and failed cases).</summary>
    public EquivarianceReport Report { get; }

    private static string BuildMessage(EquivarianceReport report) =>
        report.Cases.Count == 0
            ? $"{report.Title}: no case was run (all checks disabled?)."
            : $"{report.Title} failed: {string.Join(", ", report.FailedChecks)}.{Environment.NewLine}Failed cases:{Environment.NewLine}{report.ToTable(failuresOnly: true)}";
}
