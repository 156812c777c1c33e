using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Readout;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// A translation-only point convolution: the kernel is an MLP of the raw relative position x_j − x_i,
/// k_ij = MLP(x_j − x_i) [E, H]; messages k_ij ⊙ Linear(h_j) are summed over j and h is updated
/// residually by Linear–SiLU–Linear([h, Σ]); sum pooling and a decoder give [G, T]. Invariant to
/// translations and permutations but <b>not</b> to rotations or reflections: the baseline that shows
/// what the equivariant models buy.
/// </summary>
public sealed class PointConv : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear embedding;
    private readonly ModuleList<Sequential> kernels, updates;
    private readonly ModuleList<Linear> values;
    private readonly Sequential decoder;

    /// <summary>Creates the model.</summary>
    public PointConv(MolecularModelOptions options) : base(nameof(PointConv))
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        int h = options.Hidden, l = options.Layers;
        embedding = nn.Linear(options.NodeChannels, h);
        kernels = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Sequential(nn.Linear(3, h), nn.SiLU(), nn.Linear(h, h))).ToArray());
        values = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Linear(h, h)).ToArray());
        updates = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Sequential(nn.Linear(2 * h, h), nn.SiLU(), nn.Linear(h, h))).ToArray());
        decoder = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, options.Outputs));
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public MolecularModelOptions Options { get; }

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, features) = MolecularModels.Inputs(batch, Options, nameof(PointConv));
        var relative = MolecularModels.Relative(x, batch.EdgeIndex);
        var source = batch.EdgeIndex[0];
        var target = batch.EdgeIndex[1];
        var h = embedding.forward(features);
        for (int k = 0; k < Options.Layers; k++)
        {
            var messages = kernels[k].forward(relative) * values[k].forward(h).index_select(0, source);
            var aggregated = torch.zeros(h.shape[0], h.shape[1], dtype: h.dtype, device: h.device).index_add_(0, target, messages, EgnnLayer.One);
            h = h + updates[k].forward(torch.cat(new[] { h, aggregated }, 1));
        }
        return decoder.forward(GlobalPool.Sum(h, batch.Batch, batch.NumGraphs));
    }
}
