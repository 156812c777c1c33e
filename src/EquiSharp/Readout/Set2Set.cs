using EquiSharp.Aggregation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Readout;

/// <summary>
/// Set2Set readout (Vinyals et al. 2016, used by Gilmer's MPNN): an LSTM produces a query q per
/// graph; attention a_i = softmax over the graph's nodes of f_i·q; r = SUM_i a_i f_i; the next
/// LSTM input is q* = [q, r]. After <see cref="Steps"/> steps the output is q* [G, 2F].
/// Permutation invariant in the nodes of each graph.
/// </summary>
public sealed class Set2Set : nn.Module<Tensor, Tensor, long, Tensor>
{
    private readonly LSTMCell lstm;

    /// <summary>Creates the readout for node features of size <paramref name="channels"/>.</summary>
    public Set2Set(long channels, int steps = 3) : base(nameof(Set2Set))
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Must be positive.");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "Set2Set needs at least one processing step.");
        Channels = channels;
        Steps = steps;
        lstm = nn.LSTMCell(2 * channels, channels);
        RegisterComponents();
    }

    /// <summary>Node feature size F (the output has 2F).</summary>
    public long Channels { get; }

    /// <summary>Number of processing steps.</summary>
    public int Steps { get; }

    /// <summary>Pools node features [N, F] with batch vector [N] into [G, 2F].</summary>
    public override Tensor forward(Tensor nodeFeatures, Tensor batch, long numGraphs)
    {
        if (nodeFeatures.dim() != 2 || nodeFeatures.shape[1] != Channels)
            throw new ArgumentException($"Set2Set: node features have shape [{string.Join(", ", nodeFeatures.shape)}]; expected [N, {Channels}].", nameof(nodeFeatures));
        var h = torch.zeros(numGraphs, Channels, dtype: nodeFeatures.dtype, device: nodeFeatures.device);
        var c = torch.zeros(numGraphs, Channels, dtype: nodeFeatures.dtype, device: nodeFeatures.device);
        var qStar = torch.zeros(numGraphs, 2 * Channels, dtype: nodeFeatures.dtype, device: nodeFeatures.device);
        for (int step = 0; step < Steps; step++)
        {
            (h, c) = lstm.forward(qStar, (h, c));
            var scores = (nodeFeatures * h.index_select(0, batch)).sum(-1, keepdim: true);
            var attention = Scatter.Softmax(scores, batch, numGraphs);
            var readout = Scatter.Sum(attention * nodeFeatures, batch, numGraphs);
            qStar = torch.cat(new[] { h, readout }, 1);
        }
        return qStar;
    }
}
