using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Graphs;

/// <summary>An in-memory list of graphs as a TorchSharp dataset.</summary>
public sealed class GraphDataset(IReadOnlyList<GeometricGraph> graphs) : torch.utils.data.Dataset<GeometricGraph>
{
    /// <summary>The graphs, in order.</summary>
    public IReadOnlyList<GeometricGraph> Graphs { get; } = graphs ?? throw new ArgumentNullException(nameof(graphs));

    /// <inheritdoc />
    public override long Count => Graphs.Count;

    /// <inheritdoc />
    public override GeometricGraph GetTensor(long index) => Graphs[checked((int)index)];

    /// <summary>The dataset owns nothing: graphs are disposed by whoever created them.</summary>
    protected override void Dispose(bool disposing) { }
}

/// <summary>TorchSharp <see cref="DataLoader{T, S}"/> for graphs: each mini-batch is a <see cref="GraphBatch"/>.</summary>
public static class GraphDataLoader
{
    /// <summary>
    /// A data loader whose collate function is <see cref="GraphBatch.FromGraphs"/>. The loader
    /// disposes each batch after its iteration; the graphs themselves are not disposed.
    /// </summary>
    public static DataLoader<GeometricGraph, GraphBatch> Create(GraphDataset dataset, int batchSize, bool shuffle = false,
        int? seed = null, bool dropLast = false, Device? device = null, bool validate = false) =>
        new(dataset, batchSize, (graphs, dev) => GraphBatch.FromGraphs(graphs.ToList(), dev, validate), shuffle,
            device ?? torch.CPU, seed, num_worker: 1, drop_last: dropLast, disposeBatch: true, disposeDataset: false);
}
