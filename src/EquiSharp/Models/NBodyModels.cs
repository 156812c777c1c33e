using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>Hyper-parameters shared by the N-body models (defaults: the EGNN paper's settings).</summary>
/// <param name="Hidden">Hidden width (64).</param>
/// <param name="Layers">Message passing layers (4).</param>
/// <param name="Tanh">EGNN only: tanh on the coordinate network output.</param>
/// <param name="NormalizeDifference">EGNN only: normalised relative positions in the coordinate update.</param>
/// <param name="Attention">EGNN and GNN: sigmoid attention gate on the messages.</param>
/// <param name="Orientations">PONITA only: points of the orientation grid on S² (16).</param>
/// <param name="BasisDimension">PONITA only: width of the basis networks (256); the per-layer kernels cost E·O·BasisDimension·Hidden multiply-adds.</param>
/// <param name="Calibrate">PONITA only: rescale the kernels at the first training batch as the reference does (<see cref="GroupConv.PonitaOptions.Calibrate"/>).</param>
public sealed record NBodyModelOptions(int Hidden = 64, int Layers = 4, bool Tanh = false, bool NormalizeDifference = false, bool Attention = false,
    int Orientations = 16, int BasisDimension = 256, bool Calibrate = false)
{
    /// <summary>Checks the values; the error names the field.</summary>
    public void Validate()
    {
        if (Hidden < 1) throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, "Must be positive.");
        if (Layers < 1) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "Must be positive.");
        if (Orientations < 1) throw new ArgumentOutOfRangeException(nameof(Orientations), Orientations, "Must be positive.");
        if (BasisDimension < 1) throw new ArgumentOutOfRangeException(nameof(BasisDimension), BasisDimension, "Must be positive.");
    }
}

/// <summary>
/// Factory of the N-body models by name: <c>egnn</c> (<see cref="NBodyEgnn"/>), <c>gnn</c>
/// (<see cref="NBodyGnn"/>), <c>linear</c> (<see cref="NBodyLinear"/>), <c>linear-vel</c>
/// (<see cref="NBodyLinearDynamics"/>), <c>segnn</c> (<see cref="NBodySegnn"/>), <c>tfn</c> (<see cref="NBodyTfn"/>),
/// <c>ponita</c> (<see cref="NBodyPonita"/>), <c>lieconv</c> (<see cref="NBodyLieConv"/>). Each maps a
/// <see cref="GraphBatch"/> built by <c>NBodyDataset</c> (Positions x_30 [N, 3], NodeVectors v_30
/// [N, 1, 3], EdgeAttributes q_i q_j [E, 1]) to predicted positions at the target frame [N, 3].
/// </summary>
public static class NBodyModels
{
    /// <summary>The valid model names.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "egnn", "gnn", "linear", "linear-vel", "segnn", "tfn", "ponita", "lieconv" };

    /// <summary>Creates a freshly initialised model (float32, CPU; use <c>.to(...)</c> to change).</summary>
    /// <param name="name">One of <see cref="Names"/> (case-insensitive).</param>
    /// <param name="options">Hyper-parameters (paper defaults when null; ignored by the linear models).</param>
    /// <exception cref="ArgumentException">Unknown name, listing the valid ones.</exception>
    public static nn.Module<GraphBatch, Tensor> Create(string name, NBodyModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        options ??= new NBodyModelOptions();
        options.Validate();
        return name.Trim().ToLowerInvariant() switch
        {
            "egnn" => new NBodyEgnn(options),
            "gnn" => new NBodyGnn(options),
            "linear" => new NBodyLinear(),
            "linear-vel" => new NBodyLinearDynamics(),
            "segnn" => new NBodySegnn(options),
            "tfn" => new NBodyTfn(options),
            "ponita" => new NBodyPonita(options),
            "lieconv" => new NBodyLieConv(options),
            _ => throw new ArgumentException($"Unknown N-body model '{name}'; valid names: {string.Join(", ", Names)}.", nameof(name)),
        };
    }

    /// <summary>Positions [N, 3] and velocities [N, 3] of a batch, checked; the error names the field and shape.</summary>
    internal static (Tensor X, Tensor V) PositionsAndVelocities(GraphBatch batch, string model)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var x = batch.Positions;
        if (x.dim() != 2 || x.shape[1] != 3)
            throw new GraphValidationException($"{model}: Positions have shape {GraphValidation.Shape(x)}; expected [N, 3].");
        var v = batch.NodeVectors
            ?? throw new GraphValidationException($"{model} needs NodeVectors (velocities) [N, 1, 3]; the batch has none.");
        if (v.dim() != 3 || v.shape[0] != x.shape[0] || v.shape[1] != 1 || v.shape[2] != 3)
            throw new GraphValidationException($"{model}: NodeVectors have shape {GraphValidation.Shape(v)}; expected [N = {x.shape[0]}, 1, 3] (one velocity per node).");
        return (x, v.view(-1, 3));
    }

    /// <summary>Node charges [N, 1] (NodeFeatures) of a batch, checked.</summary>
    internal static Tensor Charges(GraphBatch batch, string model)
    {
        var q = batch.NodeFeatures
            ?? throw new GraphValidationException($"{model} needs NodeFeatures (charges) [N, 1]; the batch has none.");
        if (q.dim() != 2 || q.shape[0] != batch.NumNodes || q.shape[1] != 1)
            throw new GraphValidationException($"{model}: NodeFeatures have shape {GraphValidation.Shape(q)}; expected [N = {batch.NumNodes}, 1] (charges).");
        return q;
    }

    /// <summary>Edge attributes q_i q_j [E, 1] of a batch, checked.</summary>
    internal static Tensor ChargeProducts(GraphBatch batch, string model)
    {
        var a = batch.EdgeAttributes
            ?? throw new GraphValidationException($"{model} needs EdgeAttributes q_i q_j [E, 1]; the batch has none.");
        if (a.dim() != 2 || a.shape[0] != batch.NumEdges || a.shape[1] != 1)
            throw new GraphValidationException($"{model}: EdgeAttributes have shape {GraphValidation.Shape(a)}; expected [E = {batch.NumEdges}, 1] (charge products).");
        return a;
    }
}
