using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Training;

/// <summary>
/// Energy-and-force regression (MD17-style) for a model that returns [N, 4] = [energy of the atom's
/// molecule, F_x, F_y, F_z] (see <c>EquiSharp.Models.ForceField</c>) against GraphTarget [G, 1] energies
/// and NodeTarget [N, 3] forces. Loss: <see cref="EnergyWeight"/> · MSE(E) + <see cref="ForceWeight"/> · MSE(F)
/// (mean over force components). Metrics in data units (× <see cref="Scale"/>): energy_mae, force_mae
/// (per component), energy_mse, force_mse; selection by force_mae. Evaluation needs gradients.
/// </summary>
/// <param name="energyWeight">Weight of the energy term (SchNet: 0.01 with force weight 1).</param>
/// <param name="forceWeight">Weight of the force term.</param>
/// <param name="scale">Factor from the targets' units to the reported ones (e.g. the normalisation scale).</param>
public sealed class EnergyForceTask(double energyWeight = 0.01, double forceWeight = 1.0, double scale = 1.0) : ITrainingTask
{
    private static readonly string[] Metrics = ["energy_mae", "force_mae", "energy_mse", "force_mse"];

    /// <summary>Weight of the energy MSE.</summary>
    public double EnergyWeight { get; } = double.IsFinite(energyWeight) && energyWeight >= 0 ? energyWeight
        : throw new ArgumentOutOfRangeException(nameof(energyWeight), energyWeight, "Must be a non-negative finite number.");

    /// <summary>Weight of the force MSE.</summary>
    public double ForceWeight { get; } = double.IsFinite(forceWeight) && forceWeight >= 0 ? forceWeight
        : throw new ArgumentOutOfRangeException(nameof(forceWeight), forceWeight, "Must be a non-negative finite number.");

    /// <summary>Factor applied to errors in the metrics.</summary>
    public double Scale { get; } = double.IsFinite(scale) && scale > 0 ? scale
        : throw new ArgumentOutOfRangeException(nameof(scale), scale, "Must be a positive finite number.");

    /// <inheritdoc />
    public string Name => "energy-force";

    /// <inheritdoc />
    public IReadOnlyList<string> MetricNames => Metrics;

    /// <inheritdoc />
    public string SelectionMetric => "force_mae";

    /// <inheritdoc />
    public bool EvaluateWithGradients => true;

    /// <inheritdoc />
    public Tensor Loss(Tensor prediction, GraphBatch batch)
    {
        var (e, f, ye, yf) = Split(prediction, batch);
        return EnergyWeight * nn.functional.mse_loss(e, ye) + ForceWeight * nn.functional.mse_loss(f, yf);
    }

    /// <inheritdoc />
    public void Accumulate(Tensor prediction, GraphBatch batch, MetricAccumulator metrics)
    {
        using var scope = torch.NewDisposeScope();
        var (e, f, ye, yf) = Split(prediction.detach(), batch);
        var de = (e - ye).to_type(ScalarType.Float64);
        var df = (f - yf).to_type(ScalarType.Float64);
        metrics.Add("energy_mae", de.abs().sum().item<double>() * Scale, de.numel());
        metrics.Add("force_mae", df.abs().sum().item<double>() * Scale, df.numel());
        metrics.Add("energy_mse", de.square().sum().item<double>() * Scale * Scale, de.numel());
        metrics.Add("force_mse", df.square().sum().item<double>() * Scale * Scale, df.numel());
    }

    private static (Tensor E, Tensor F, Tensor TargetE, Tensor TargetF) Split(Tensor prediction, GraphBatch batch)
    {
        var ye = batch.GraphTarget ?? throw new GraphValidationException("EnergyForceTask: the batch has no GraphTarget (energies).");
        var yf = batch.NodeTarget ?? throw new GraphValidationException("EnergyForceTask: the batch has no NodeTarget (forces).");
        if (prediction.dim() != 2 || prediction.shape[0] != batch.NumNodes || prediction.shape[1] != 4)
            throw new GraphValidationException($"EnergyForceTask: the model predicted shape {GraphValidation.Shape(prediction)}; expected [N = {batch.NumNodes}, 4] (energy, forces).");
        if (ye.dim() != 2 || ye.shape[0] != batch.NumGraphs || ye.shape[1] != 1)
            throw new GraphValidationException($"EnergyForceTask: GraphTarget has shape {GraphValidation.Shape(ye)}; expected [G = {batch.NumGraphs}, 1].");
        if (!yf.shape.SequenceEqual(new[] { batch.NumNodes, 3L }))
            throw new GraphValidationException($"EnergyForceTask: NodeTarget has shape {GraphValidation.Shape(yf)}; expected [N = {batch.NumNodes}, 3].");
        // The energy column repeats the molecule's energy on its atoms: take it at each molecule's first atom.
        var e = prediction[.., 0].index_select(0, batch.Ptr[..^1]).unsqueeze(1);
        return (e, prediction[.., 1..], ye, yf);
    }
}
