using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>Hyper-parameters of the molecular models (defaults follow the papers' QM9 settings where CPU time allows).</summary>
/// <param name="NodeChannels">Input node features (15 for EGNN's charge powers, 5 for one-hot).</param>
/// <param name="Outputs">Graph-level outputs T.</param>
/// <param name="Hidden">Hidden width (EGNN, SchNet: 128; MPNN: 64).</param>
/// <param name="Layers">Message passing layers (EGNN: 7; SchNet: 6 interactions; MPNN: 3 steps; PointConv: 4).</param>
/// <param name="Cutoff">Distance scale (Å) of radial bases and SchNet's cosine cutoff.</param>
/// <param name="RadialBasis">Gaussians of the SchNet filter and the MPNN edge features.</param>
public sealed record MolecularModelOptions(int NodeChannels = 15, int Outputs = 1, int Hidden = 128, int Layers = 7, double Cutoff = 10.0, int RadialBasis = 50)
{
    /// <summary>Checks the values; the error names the field.</summary>
    public void Validate()
    {
        if (NodeChannels < 1) throw new ArgumentOutOfRangeException(nameof(NodeChannels), NodeChannels, "Must be positive.");
        if (Outputs < 1) throw new ArgumentOutOfRangeException(nameof(Outputs), Outputs, "Must be positive.");
        if (Hidden < 1) throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, "Must be positive.");
        if (Layers < 1) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "Must be positive.");
        if (!(Cutoff > 0) || !double.IsFinite(Cutoff)) throw new ArgumentOutOfRangeException(nameof(Cutoff), Cutoff, "Must be a positive finite distance.");
        if (RadialBasis < 2) throw new ArgumentOutOfRangeException(nameof(RadialBasis), RadialBasis, "At least 2 basis functions.");
    }
}

/// <summary>
/// Factory of the molecular property models by name: <c>egnn</c> (<see cref="MolecularEgnn"/>),
/// <c>schnet</c> (<see cref="SchNet"/>), <c>mpnn</c> (<see cref="MolecularMpnn"/>), <c>pointconv</c>
/// (<see cref="PointConv"/>), <c>segnn</c> (<see cref="MolecularSegnn"/>), <c>ponita</c> (<see cref="MolecularPonita"/>). Each maps a molecule batch (Positions [N, 3] Å, NodeFeatures [N, F],
/// EdgeIndex) to graph outputs [G, T].
/// </summary>
public static class MolecularModels
{
    /// <summary>The valid model names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["egnn", "schnet", "mpnn", "pointconv", "segnn", "ponita"];

    /// <summary>Per-model defaults of hidden width and layers: (EGNN 128, 7), (SchNet 128, 6), (MPNN 64, 3), (PointConv 128, 4).</summary>
    public static (int Hidden, int Layers) Defaults(string name) => name.Trim().ToLowerInvariant() switch
    {
        "egnn" => (128, 7),
        "schnet" => (128, 6),
        "mpnn" => (64, 3),
        "pointconv" => (128, 4),
        "segnn" => (128, 7),
        "ponita" => (128, 5),
        _ => throw new ArgumentException($"Unknown molecular model '{name}'; valid names: {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>Creates a freshly initialised model (float32, CPU).</summary>
    public static nn.Module<GraphBatch, Tensor> Create(string name, MolecularModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return name.Trim().ToLowerInvariant() switch
        {
            "egnn" => new MolecularEgnn(options),
            "schnet" => new SchNet(options),
            "mpnn" => new MolecularMpnn(options),
            "pointconv" => new PointConv(options),
            "segnn" => new MolecularSegnn(options),
            "ponita" => new MolecularPonita(options),
            _ => throw new ArgumentException($"Unknown molecular model '{name}'; valid names: {string.Join(", ", Names)}.", nameof(name)),
        };
    }

    /// <summary>Positions [N, 3] and node features [N, F] of a molecule batch, checked; the error names the model.</summary>
    internal static (Tensor X, Tensor H) Inputs(GraphBatch batch, MolecularModelOptions options, string model)
    {
        var h = batch.NodeFeatures ?? throw new GraphValidationException($"{model} needs NodeFeatures [N, {options.NodeChannels}]; the batch has none.");
        if (h.dim() != 2 || h.shape[1] != options.NodeChannels)
            throw new GraphValidationException($"{model}: NodeFeatures have shape {GraphValidation.Shape(h)}; expected [N, {options.NodeChannels}].");
        var x = batch.Positions;
        if (x.dim() != 2 || x.shape[1] != 3 || x.shape[0] != h.shape[0])
            throw new GraphValidationException($"{model}: Positions have shape {GraphValidation.Shape(x)}; expected [N = {h.shape[0]}, 3].");
        return (x, h);
    }

    /// <summary>x_j − x_i [E, 3] (source minus target) of every edge.</summary>
    internal static Tensor Relative(Tensor x, Tensor edgeIndex) => x.index_select(0, edgeIndex[0]) - x.index_select(0, edgeIndex[1]);

    /// <summary>Distances |x_j − x_i| [E] of every edge.</summary>
    internal static Tensor Distances(Tensor x, Tensor edgeIndex) => Relative(x, edgeIndex).square().sum(1).sqrt();

    /// <summary>softplus(x) − ln 2 (SchNet's shifted softplus, 0 at 0).</summary>
    internal static Tensor ShiftedSoftplus(Tensor x) => nn.functional.softplus(x) - Math.Log(2.0);
}
