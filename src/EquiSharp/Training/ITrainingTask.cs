using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Training;

/// <summary>
/// What a <see cref="Trainer"/> optimises and reports: the differentiable loss of a mini-batch and the
/// metrics accumulated over a whole evaluation set.
/// </summary>
public interface ITrainingTask
{
    /// <summary>Short name stored in checkpoints and metric files (e.g. "node-mse").</summary>
    string Name { get; }

    /// <summary>Names of the metrics that <see cref="Accumulate"/> reports, in column order.</summary>
    IReadOnlyList<string> MetricNames { get; }

    /// <summary>The metric (one of <see cref="MetricNames"/>, lower is better) that selects the best epoch and drives early stopping.</summary>
    string SelectionMetric { get; }

    /// <summary>The scalar training loss of one mini-batch (mean over the batch), differentiable w.r.t. <paramref name="prediction"/>.</summary>
    Tensor Loss(Tensor prediction, GraphBatch batch);

    /// <summary>Adds the batch's contribution to every metric of <see cref="MetricNames"/> (sums and counts, so the dataset mean is exact).</summary>
    void Accumulate(Tensor prediction, GraphBatch batch, MetricAccumulator metrics);

    /// <summary>
    /// True when the model needs autograd even to predict (e.g. forces F = −dE/dx for MD17): evaluation
    /// then runs with gradients enabled instead of under <c>no_grad</c> (still in eval mode, no parameter
    /// update). False by default.
    /// </summary>
    bool EvaluateWithGradients => false;
}

/// <summary>Accumulates (sum, count) pairs per metric; the reported value is sum / count.</summary>
public sealed class MetricAccumulator
{
    private readonly Dictionary<string, (double Sum, long Count)> sums = new(StringComparer.Ordinal);

    /// <summary>Adds <paramref name="sum"/> over <paramref name="count"/> elements to metric <paramref name="name"/>.</summary>
    public void Add(string name, double sum, long count)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The count must be ≥ 0.");
        sums.TryGetValue(name, out var current);
        sums[name] = (current.Sum + sum, current.Count + count);
    }

    /// <summary>The mean of every metric (NaN where nothing was counted).</summary>
    public Dictionary<string, double> Means() =>
        sums.ToDictionary(kv => kv.Key, kv => kv.Value.Count == 0 ? double.NaN : kv.Value.Sum / kv.Value.Count, StringComparer.Ordinal);
}

/// <summary>Which target of a <see cref="GraphBatch"/> a <see cref="RegressionTask"/> regresses.</summary>
public enum RegressionTarget
{
    /// <summary><see cref="GraphBatch.NodeTarget"/> [N, ...] (e.g. future positions, forces).</summary>
    Node,

    /// <summary><see cref="GraphBatch.GraphTarget"/> [G, T] (e.g. molecular properties).</summary>
    Graph,
}

/// <summary>Training loss of a <see cref="RegressionTask"/>.</summary>
public enum RegressionLoss
{
    /// <summary>Mean squared error over all target elements.</summary>
    Mse,

    /// <summary>Mean absolute error (L1) over all target elements.</summary>
    L1,
}

/// <summary>
/// Regression against a node or graph target. Metrics: "mse" and "mae", means over all target elements
/// (every coordinate of every node for node targets), reported in target units × <see cref="Scale"/>
/// (e.g. the training standard deviation when targets were normalised). The prediction must have the
/// target's shape exactly.
/// </summary>
/// <param name="target">Node or graph target.</param>
/// <param name="loss">Training loss (on the unscaled values).</param>
/// <param name="selectionMetric">"mse" or "mae".</param>
/// <param name="scale">Factor applied to errors in the reported metrics (positive, finite).</param>
public sealed class RegressionTask(RegressionTarget target, RegressionLoss loss, string selectionMetric = "mse", double scale = 1.0) : ITrainingTask
{
    private static readonly string[] Metrics = ["mse", "mae"];

    /// <summary>MSE on node targets, selected by MSE: the N-body protocol (mean squared error over all coordinates).</summary>
    public static RegressionTask NodeMse() => new(RegressionTarget.Node, RegressionLoss.Mse, "mse");

    /// <summary>L1 on graph targets, selected by MAE (QM9-style); <paramref name="scale"/> converts to physical units.</summary>
    public static RegressionTask GraphL1(double scale = 1.0) => new(RegressionTarget.Graph, RegressionLoss.L1, "mae", scale);

    /// <summary>Node or graph target.</summary>
    public RegressionTarget Target { get; } = Enum.IsDefined(target) ? target : throw new ArgumentOutOfRangeException(nameof(target), target, "Unknown target.");

    /// <summary>Training loss.</summary>
    public RegressionLoss LossKind { get; } = Enum.IsDefined(loss) ? loss : throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown loss.");

    /// <summary>Factor applied to errors in the reported metrics.</summary>
    public double Scale { get; } = double.IsFinite(scale) && scale > 0 ? scale
        : throw new ArgumentOutOfRangeException(nameof(scale), scale, "The metric scale must be a positive finite number.");

    /// <inheritdoc />
    public string Name => $"{Target.ToString().ToLowerInvariant()}-{LossKind.ToString().ToLowerInvariant()}";

    /// <inheritdoc />
    public IReadOnlyList<string> MetricNames => Metrics;

    /// <inheritdoc />
    public string SelectionMetric { get; } = Metrics.Contains(selectionMetric) ? selectionMetric
        : throw new ArgumentException($"Selection metric '{selectionMetric}' is not one of: {string.Join(", ", Metrics)}.", nameof(selectionMetric));

    /// <inheritdoc />
    public Tensor Loss(Tensor prediction, GraphBatch batch)
    {
        var y = TargetOf(prediction, batch);
        return LossKind == RegressionLoss.Mse ? nn.functional.mse_loss(prediction, y) : nn.functional.l1_loss(prediction, y);
    }

    /// <inheritdoc />
    public void Accumulate(Tensor prediction, GraphBatch batch, MetricAccumulator metrics)
    {
        using var scope = torch.NewDisposeScope();
        var error = (prediction.detach() - TargetOf(prediction, batch)).to_type(ScalarType.Float64);
        long count = error.numel();
        metrics.Add("mse", error.square().sum().item<double>() * Scale * Scale, count);
        metrics.Add("mae", error.abs().sum().item<double>() * Scale, count);
    }

    private Tensor TargetOf(Tensor prediction, GraphBatch batch)
    {
        var y = Target == RegressionTarget.Node
            ? batch.NodeTarget ?? throw new GraphValidationException("RegressionTask(Node): the batch has no NodeTarget.")
            : batch.GraphTarget ?? throw new GraphValidationException("RegressionTask(Graph): the batch has no GraphTarget.");
        if (!prediction.shape.SequenceEqual(y.shape))
            throw new GraphValidationException(
                $"RegressionTask({Target}): the model predicted shape {GraphValidation.Shape(prediction)} but the {Target}Target has shape {GraphValidation.Shape(y)}.");
        return y;
    }
}
