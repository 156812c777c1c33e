using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Readout;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>Hyper-parameters of <see cref="Mpnn"/>.</summary>
/// <param name="NodeChannels">Input node feature size (GraphBatch.NodeFeatures).</param>
/// <param name="EdgeChannels">Input edge attribute size (GraphBatch.EdgeAttributes).</param>
/// <param name="Outputs">Number of graph-level outputs.</param>
/// <param name="Hidden">Hidden node feature size.</param>
/// <param name="Steps">Message passing steps (one shared edge network and GRU, as in Gilmer et al.).</param>
/// <param name="EdgeHidden">Hidden width of the edge network.</param>
/// <param name="Set2SetSteps">Processing steps of the Set2Set readout.</param>
/// <param name="Aggregation">Message aggregation.</param>
public sealed record MpnnOptions(long NodeChannels, long EdgeChannels, long Outputs = 1, long Hidden = 64, int Steps = 3,
    long EdgeHidden = 128, int Set2SetSteps = 3, Aggregation.Aggregation Aggregation = Aggregation.Aggregation.Mean);

/// <summary>
/// Gilmer et al.'s message passing neural network: node embedding, <see cref="MpnnOptions.Steps"/>
/// rounds of the edge network convolution (<see cref="EdgeNetworkConv"/>) with a GRU update whose
/// weights are shared across rounds, a <see cref="Set2Set"/> readout and an MLP head. Maps a
/// <see cref="GraphBatch"/> (NodeFeatures, EdgeAttributes, EdgeIndex) to [G, Outputs].
/// It is invariant to rotations and translations exactly when its edge attributes are (e.g. distances).
/// </summary>
public sealed class Mpnn : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear embed;
    private readonly EdgeNetworkConv conv;
    private readonly GRUCell gru;
    private readonly Set2Set readout;
    private readonly Sequential head;

    /// <summary>Creates the model.</summary>
    public Mpnn(MpnnOptions options) : base(nameof(Mpnn))
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.Steps < 1) throw new ArgumentOutOfRangeException(nameof(options), "Steps must be at least 1.");
        embed = nn.Linear(options.NodeChannels, options.Hidden);
        conv = new EdgeNetworkConv(options.Hidden, options.Hidden, options.EdgeChannels, options.EdgeHidden, options.Aggregation);
        gru = nn.GRUCell(options.Hidden, options.Hidden);
        readout = new Set2Set(options.Hidden, options.Set2SetSteps);
        head = nn.Sequential(nn.Linear(2 * options.Hidden, options.Hidden), nn.ReLU(), nn.Linear(options.Hidden, options.Outputs));
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public MpnnOptions Options { get; }

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var features = batch.NodeFeatures
            ?? throw new GraphValidationException("Mpnn needs NodeFeatures [N, F]; the batch has none.");
        if (features.dim() != 2 || features.shape[1] != Options.NodeChannels)
            throw new GraphValidationException($"Mpnn: NodeFeatures have shape {GraphValidation.Shape(features)}; expected [N, {Options.NodeChannels}].");
        if (batch.EdgeAttributes is null)
            throw new GraphValidationException("Mpnn needs EdgeAttributes [E, B] (e.g. distance features); the batch has none.");
        var edges = EdgeContext.FromBatch(batch);
        var h = nn.functional.relu(embed.forward(features));
        var matrices = conv.Matrices(batch.EdgeAttributes); // shared by all steps: computed once
        for (int step = 0; step < Options.Steps; step++)
        {
            var m = nn.functional.relu(conv.forward(h, edges, matrices));
            h = gru.forward(m, h);
        }
        return head.forward(readout.forward(h, batch.Batch, batch.NumGraphs));
    }
}
