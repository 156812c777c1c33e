using EquiSharp.Aggregation;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>
/// One message passing step in the form of the framework:
/// m_ij = φ_m(f_i, f_j, a_ij) (<see cref="Message"/>), M_i = AGG over j of m_ij (<see cref="Aggregate"/>),
/// f'_i = φ_f(f_i, M_i) (<see cref="Update"/>). Subclasses implement the three steps; the base class
/// gathers f_i and f_j along the edges and calls them in order. No reflection or code generation is involved.
/// </summary>
public abstract class MessagePassingLayer : nn.Module<Tensor, EdgeContext, Tensor>
{
    /// <summary>Creates the layer with the given aggregation (sum by default).</summary>
    protected MessagePassingLayer(string name, Aggregation.Aggregation aggregation = Aggregation.Aggregation.Sum) : base(name)
    {
        AggregationKind = aggregation;
    }

    /// <summary>How messages arriving at a node are reduced.</summary>
    public Aggregation.Aggregation AggregationKind { get; }

    /// <summary>Runs message → aggregate → update on node features [N, F].</summary>
    public override Tensor forward(Tensor nodeFeatures, EdgeContext edges)
    {
        if (nodeFeatures.dim() == 0 || nodeFeatures.shape[0] != edges.NumNodes)
            throw new ArgumentException(
                $"{GetName()}: node features have shape [{string.Join(", ", nodeFeatures.shape)}]; expected first dimension N = {edges.NumNodes}.",
                nameof(nodeFeatures));
        var messages = Message(edges.GatherTarget(nodeFeatures), edges.GatherSource(nodeFeatures), edges);
        var aggregated = Aggregate(messages, edges);
        return Update(nodeFeatures, aggregated);
    }

    /// <summary>φ_m: messages [E, M] from target features f_i [E, F], source features f_j [E, F] and the edges (attributes a_ij).</summary>
    protected abstract Tensor Message(Tensor target, Tensor source, EdgeContext edges);

    /// <summary>Reduces messages [E, M] at the target nodes → [N, M] with <see cref="AggregationKind"/>.</summary>
    protected virtual Tensor Aggregate(Tensor messages, EdgeContext edges) =>
        Scatter.Aggregate(messages, edges.Target, edges.NumNodes, AggregationKind);

    /// <summary>φ_f: new node features from the old ones [N, F] and the aggregated messages [N, M]. Default: the aggregate.</summary>
    protected virtual Tensor Update(Tensor nodeFeatures, Tensor aggregated) => aggregated;
}
