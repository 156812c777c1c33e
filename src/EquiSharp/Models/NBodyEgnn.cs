using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// EGNN for the charged N-body task, configured as in Satorras et al. (2021): node input |v|
/// embedded by a linear layer to <see cref="NBodyModelOptions.Hidden"/> features; edge attributes
/// [q_i q_j, |x_i − x_j|² at the input positions]; <see cref="NBodyModelOptions.Layers"/>
/// <see cref="EgnnLayer"/>s with SiLU, the mean of the clamped coordinate terms, the velocity term
/// φ_v(h_i) v_i with the input velocity in every layer, summed messages and a residual node update.
/// Returns the final coordinates [N, 3] (predicted positions at the target frame).
/// </summary>
/// <remarks>E(3)-equivariant: rotating/reflecting/translating the input positions (and rotating the
/// velocities) transforms the output the same way; permuting the nodes of a system permutes it.</remarks>
public sealed class NBodyEgnn : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear embedding;
    private readonly ModuleList<EgnnLayer> layers;

    /// <summary>Creates the model.</summary>
    public NBodyEgnn(NBodyModelOptions? options = null) : base(nameof(NBodyEgnn))
    {
        Options = options ?? new NBodyModelOptions();
        Options.Validate();
        embedding = nn.Linear(1, Options.Hidden);
        var layerOptions = new EgnnLayerOptions(Options.Hidden, Options.Hidden, EdgeChannels: 2, UseVelocity: true,
            Tanh: Options.Tanh, NormalizeDifference: Options.NormalizeDifference, Attention: Options.Attention);
        layers = nn.ModuleList(Enumerable.Range(0, Options.Layers).Select(k => new EgnnLayer(layerOptions, $"layer{k}")).ToArray());
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public NBodyModelOptions Options { get; }

    /// <summary>Check the edge index range on every forward pass (one reduction; on by default).</summary>
    public bool ValidateEdges { get; set; } = true;

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodyEgnn));
        var charges = NBodyModels.ChargeProducts(batch, nameof(NBodyEgnn));
        var edges = EgnnEdges.Create(batch.EdgeIndex, batch.NumNodes, x.dtype, validate: ValidateEdges);
        var radial = edges.Differences(x).square().sum(1, keepdim: true);
        edges = edges.WithAttributes(torch.cat(new[] { charges, radial }, 1));
        var h = embedding.forward(v.norm(1, keepdim: true));
        foreach (var layer in layers)
            (h, x) = layer.forward(h, x, edges, v);
        return x;
    }
}
