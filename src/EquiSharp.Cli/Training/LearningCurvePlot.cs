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
        AddSeries(plot, history.Select(r => ((double)r.Epoch, r.TrainLoss)), "train loss", markers: false);
        AddSeries(plot, history.Where(r => r.Validation is not null).Select(r => ((double)r.Epoch, r.Validation![metric])), $"validation {metric}", markers: true);
        AddSeries(plot, history.Where(r => r.Test is not null).Select(r => ((double)r.Epoch, r.Test![metric])), $"test {metric} (at new best validation)", markers: true, line: false);

        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => $"{Math.Pow(10, y):g3}",
        };
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel($"loss / {metric} (log scale)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        var bytes = plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    private static void AddSeries(ScottPlot.Plot plot, IEnumerable<(double X, double Y)> points, string label, bool markers, bool line = true)
    {
        var finite = points.Where(p => double.IsFinite(p.Y) && p.Y > 0).ToArray();
        if (finite.Length == 0) return;
        var scatter = plot.Add.Scatter(finite.Select(p => p.X).ToArray(), finite.Select(p => Math.Log10(p.Y)).ToArray());
        scatter.LegendText = label;
        scatter.MarkerSize = markers ? 5 : 0;
        scatter.LineWidth = line ? 1.5f : 0;
    }
}
