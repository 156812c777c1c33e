using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Readout;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// EGNN for molecular properties as in Satorras et al.'s QM9 experiments: node features (one-hot × charge
/// powers) embedded to <see cref="MolecularModelOptions.Hidden"/>, <see cref="MolecularModelOptions.Layers"/>
/// <see cref="EgnnLayer"/>s on the given edges (fully connected in the paper) with the attention gate,
/// residual updates and no coordinate update, a node decoder (Linear–SiLU–Linear), sum pooling and a graph
/// decoder (Linear–SiLU–Linear) to [G, T]. Invariant to rotations, reflections, translations and permutations.
/// </summary>
public sealed class MolecularEgnn : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear embedding;
    private readonly ModuleList<EgnnLayer> layers;
    private readonly Sequential nodeDecoder, graphDecoder;

    /// <summary>Creates the model.</summary>
    public MolecularEgnn(MolecularModelOptions options) : base(nameof(MolecularEgnn))
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        int h = options.Hidden;
        embedding = nn.Linear(options.NodeChannels, h);
        var layerOptions = new EgnnLayerOptions(h, h, UpdateCoordinates: false, Attention: true);
        layers = nn.ModuleList(Enumerable.Range(0, options.Layers).Select(k => new EgnnLayer(layerOptions, $"layer{k}")).ToArray());
        nodeDecoder = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h));
        graphDecoder = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, options.Outputs));
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public MolecularModelOptions Options { get; }

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, features) = MolecularModels.Inputs(batch, Options, nameof(MolecularEgnn));
        var edges = EgnnEdges.Create(batch.EdgeIndex, batch.NumNodes, x.dtype);
        var h = embedding.forward(features);
        foreach (var layer in layers)
            (h, _) = layer.forward(h, x, edges);
        var pooled = GlobalPool.Sum(nodeDecoder.forward(h), batch.Batch, batch.NumGraphs);
        return graphDecoder.forward(pooled);
    }
}
