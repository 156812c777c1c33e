using EquiSharp.Graphs;

namespace EquiSharp.Training;

/// <summary>
/// A data set the <see cref="Trainer"/> draws mini-batches from by index. Lets a data set build its
/// batches directly from its arrays (e.g. <c>NBodyDataset.CreateBatch</c>, about 10x faster than
/// concatenating per-graph tensors) while plain lists of graphs work through <see cref="GraphListSource"/>.
/// </summary>
public interface IBatchSource
{
    /// <summary>Number of graphs.</summary>
    int Count { get; }

    /// <summary>The batch of the graphs at <paramref name="indices"/>, in that order; the caller disposes it.</summary>
    GraphBatch CreateBatch(IReadOnlyList<int> indices);
}

/// <summary>Batches of a list of graphs through <see cref="GraphBatch.FromGraphs"/> (without re-validating the graphs).</summary>
public sealed class GraphListSource(IReadOnlyList<GeometricGraph> graphs) : IBatchSource
{
    /// <summary>The graphs.</summary>
    public IReadOnlyList<GeometricGraph> Graphs { get; } = graphs ?? throw new ArgumentNullException(nameof(graphs));

    /// <inheritdoc />
    public int Count => Graphs.Count;

    /// <inheritdoc />
    public GraphBatch CreateBatch(IReadOnlyList<int> indices)
    {
        var chosen = new GeometricGraph[indices.Count];
        for (int k = 0; k < chosen.Length; k++) chosen[k] = Graphs[indices[k]];
        return GraphBatch.FromGraphs(chosen, validate: false);
    }
}

/// <summary>A batch source from a count and a batch factory.</summary>
public sealed class DelegateBatchSource(int count, Func<IReadOnlyList<int>, GraphBatch> createBatch) : IBatchSource
{
    private readonly Func<IReadOnlyList<int>, GraphBatch> create = createBatch ?? throw new ArgumentNullException(nameof(createBatch));

    /// <inheritdoc />
    public int Count { get; } = count >= 0 ? count : throw new ArgumentOutOfRangeException(nameof(count), count, "The count must be ≥ 0.");

    /// <inheritdoc />
    public GraphBatch CreateBatch(IReadOnlyList<int> indices) => create(indices);
}
