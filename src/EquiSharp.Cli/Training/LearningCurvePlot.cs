using EquiSharp.IO;
using EquiSharp.Training;

namespace EquiSharp.Cli.Training;

/// <summary>Learning-curve PNG (ScottPlot 5): training loss, validation and test-at-best metric per epoch, log-scaled.</summary>
internal static class LearningCurvePlot
{
    public const string FileName = "learning_curve.png";

    /// <summary>Renders the curve and writes it atomically; does nothing for an empty history.</summary>
    public static void Save(string path, IReadOnlyList<EpochRecord> history, string metric, string title, int width = 1000, int height = 600)
    {
        if (history.Count == 0) return;
        var plot = new ScottPlot.Plot();
        var span = AddSeries(plot, history.Select(r => ((double)r.Epoch, r.TrainLoss)), "train loss", markers: false);
        span = Merge(span, AddSeries(plot, history.Where(r => r.Validation is not null).Select(r => ((double)r.Epoch, r.Validation![metric])), $"validation {metric}", markers: true));
        span = Merge(span, AddSeries(plot, history.Where(r => r.Test is not null).Select(r => ((double)r.Epoch, r.Test![metric])), $"test {metric} (at new best validation)", markers: true, line: false));

        var ticks = LogTicks(span.Min, span.Max);
        plot.Axes.Left.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(t => t.ToString("g3", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel($"loss / {metric} (log scale)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        var bytes = plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>Tick values 1, 2, 5 × 10^k inside [10^min, 10^max] (all of 1..9 × 10^k when that gives fewer than 4).</summary>
    internal static double[] LogTicks(double min, double max)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max)) return [];
        foreach (var mantissas in new[] { new[] { 1.0 }, new[] { 1.0, 2, 5 }, new[] { 1.0, 2, 3, 4, 5, 6, 7, 8, 9 } })
        {
            var ticks = new List<double>();
            for (int k = (int)Math.Floor(min) - 1; k <= (int)Math.Ceiling(max); k++)
                foreach (var m in mantissas)
                {
                    double v = m * Math.Pow(10, k), l = Math.Log10(v);
                    if (l >= min - 1e-9 && l <= max + 1e-9) ticks.Add(v);
                }
            if (ticks.Count >= 4 || mantissas.Length == 9) return ticks.ToArray();
        }
        return [];
    }

    private static (double Min, double Max) Merge((double Min, double Max) a, (double Min, double Max) b) => (Math.Min(a.Min, b.Min), Math.Max(a.Max, b.Max));

    /// <summary>Adds a log10-scaled series; returns its log10 range.</summary>
    private static (double Min, double Max) AddSeries(ScottPlot.Plot plot, IEnumerable<(double X, double Y)> points, string label, bool markers, bool line = true)
    {
        var finite = points.Where(p => double.IsFinite(p.Y) && p.Y > 0).ToArray();
        if (finite.Length == 0) return (double.PositiveInfinity, double.NegativeInfinity);
        var scatter = plot.Add.Scatter(finite.Select(p => p.X).ToArray(), finite.Select(p => Math.Log10(p.Y)).ToArray());
        scatter.LegendText = label;
        scatter.MarkerSize = markers ? 5 : 0;
        scatter.LineWidth = line ? 1.5f : 0;
        return (finite.Min(p => Math.Log10(p.Y)), finite.Max(p => Math.Log10(p.Y)));
    }
}
