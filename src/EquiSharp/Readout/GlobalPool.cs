using EquiSharp.Aggregation;
using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Readout;

/// <summary>Graph-level pooling of node features [N, F] into [G, F] using a batch vector.</summary>
public static class GlobalPool
{
    /// <summary>Sum of the node features of each graph.</summary>
    public static Tensor Sum(Tensor nodeFeatures, Tensor batch, long numGraphs) => Scatter.Sum(nodeFeatures, batch, numGraphs);

    /// <summary>Mean of the node features of each graph (0 for a graph without nodes).</summary>
    public static Tensor Mean(Tensor nodeFeatures, Tensor batch, long numGraphs) => Scatter.Mean(nodeFeatures, batch, numGraphs);

    /// <summary>Per-channel maximum over the nodes of each graph (0 for a graph without nodes).</summary>
    public static Tensor Max(Tensor nodeFeatures, Tensor batch, long numGraphs) => Scatter.Max(nodeFeatures, batch, numGraphs);

    /// <summary>Pools with the chosen aggregation.</summary>
    public static Tensor Pool(Tensor nodeFeatures, Tensor batch, long numGraphs, Aggregation.Aggregation aggregation) =>
        Scatter.Aggregate(nodeFeatures, batch, numGraphs, aggregation);

    /// <summary>Pools over the graphs of <paramref name="graphs"/>.</summary>
    public static Tensor Pool(Tensor nodeFeatures, GraphBatch graphs, Aggregation.Aggregation aggregation) =>
        Pool(nodeFeatures, graphs.Batch, graphs.NumGraphs, aggregation);
}
