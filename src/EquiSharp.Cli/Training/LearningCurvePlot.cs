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

        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            // Decade ticks over wide ranges; intermediate ticks when the curve spans less than ~2 decades.
            IntegerTicksOnly = span.Max - span.Min > 2,
            LabelFormatter = y => $"{Math.Pow(10, y):g3}",
        };
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel($"loss / {metric} (log scale)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        var bytes = plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, bytes);
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
