using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Training;

/// <summary>
/// A batch source whose batches pass through a transform (data augmentation). Wrap the training source
/// only. Random transforms should draw from libtorch's global generator: the <see cref="Trainer"/>
/// re-seeds it at the start of every epoch, so a resumed run repeats the augmentation exactly.
/// </summary>
public sealed class AugmentedBatchSource(IBatchSource inner, Func<GraphBatch, GraphBatch> transform) : IBatchSource
{
    private readonly IBatchSource source = inner ?? throw new ArgumentNullException(nameof(inner));
    private readonly Func<GraphBatch, GraphBatch> apply = transform ?? throw new ArgumentNullException(nameof(transform));

    /// <inheritdoc />
    public int Count => source.Count;

    /// <inheritdoc />
    public GraphBatch CreateBatch(IReadOnlyList<int> indices)
    {
        using var batch = source.CreateBatch(indices);
        return apply(batch);
    }

    /// <summary>
    /// A transform that rotates a whole batch by one Haar-random rotation in SO(d) (d from the positions),
    /// drawn from the global generator; each field transforms by its type in <paramref name="fields"/>
    /// (e.g. NodeTarget = <see cref="FieldType.Position"/> for future positions).
    /// </summary>
    public static Func<GraphBatch, GraphBatch> RandomRotation(InputFieldTypes fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        return batch =>
        {
            var rotation = Rotations.RandomSpecialOrthogonal((int)batch.Positions.shape[1], dtype: batch.Positions.dtype, device: batch.Positions.device);
            return fields.Apply(batch, new EuclideanTransform(rotation));
        };
    }

    /// <summary>
    /// A transform that rotates every graph of a batch by its own Haar-random rotation in SO(d) (as PONITA's
    /// reference training does: one rotation per system, not one per batch), drawn from the global generator
    /// in one call per batch. Each field transforms by its type in <paramref name="fields"/>: node fields with
    /// their graph's rotation, edge fields with the rotation of their edge's graph (<see cref="GraphBatch.EdgePtr"/>),
    /// graph fields row by row. Positions, vectors and pseudovectors are rotated in one batched product;
    /// other types (e.g. irreps) graph by graph through <see cref="FieldType.Apply"/>.
    /// </summary>
    public static Func<GraphBatch, GraphBatch> RandomRotationPerGraph(InputFieldTypes fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        return batch =>
        {
            int graphs = batch.NumGraphs;
            using var rotations = Rotations.RandomSpecialOrthogonal((int)batch.Positions.shape[1], graphs,
                dtype: batch.Positions.dtype, device: batch.Positions.device);                        // [G, d, d]
            // Each row's rotation [rows, d, d], built once per level and only for levels with a rotated field
            // (a batch usually has several node-level vectors: positions, velocities, the target).
            var rowRotations = new Dictionary<FieldLevel, Tensor>();
            Tensor RowRotations(FieldLevel level)
            {
                if (rowRotations.TryGetValue(level, out var cached)) return cached;
                using var scope = torch.NewDisposeScope();
                var rowGraph = level switch
                {
                    FieldLevel.Node => batch.Batch,
                    FieldLevel.Edge => torch.repeat_interleave(torch.arange(graphs, device: rotations.device),
                        torch.tensor(batch.EdgeCounts, device: rotations.device), output_size: batch.NumEdges),
                    _ => torch.arange(graphs, device: rotations.device),
                };
                return rowRotations[level] = rotations.index_select(0, rowGraph).DetachFromDisposeScope();
            }
            try
            {
                return fields.Map(batch, (x, type, level) =>
                {
                    if (ReferenceEquals(type, FieldType.Invariant) || ReferenceEquals(type, FieldType.Pseudoscalar))
                        return x.clone(); // det R = +1 for rotations
                    long rows = level switch { FieldLevel.Node => batch.NumNodes, FieldLevel.Edge => batch.NumEdges, _ => graphs };
                    if (x.shape[0] != rows)
                        throw new ArgumentException($"it has {x.shape[0]} rows; the batch has {rows} at {level.ToString().ToLowerInvariant()} level.");
                    using var scope = torch.NewDisposeScope();
                    if (ReferenceEquals(type, FieldType.Position) || ReferenceEquals(type, FieldType.Vector) || ReferenceEquals(type, FieldType.Pseudovector))
                    {
                        long d = rotations.shape[1];
                        if (x.shape[^1] != d) throw new ArgumentException($"its last axis must have size {d}.");
                        var r = RowRotations(level).to(x.dtype, x.device);                               // [rows, d, d]
                        return x.reshape(rows, -1, d).bmm(r.transpose(1, 2)).reshape(x.shape).MoveToOuterDisposeScope();
                    }
                    var counts = level switch { FieldLevel.Node => batch.NodeCounts, FieldLevel.Edge => batch.EdgeCounts, _ => null };
                    var parts = new List<Tensor>(graphs);
                    long start = 0;
                    for (int g = 0; g < graphs; g++)
                    {
                        long count = counts?[g] ?? 1;
                        parts.Add(type.Apply(x.narrow(0, start, count), new EuclideanTransform(rotations[g])));
                        start += count;
                    }
                    return torch.cat(parts, 0).MoveToOuterDisposeScope();
                });
            }
            finally
            {
                foreach (var r in rowRotations.Values) r.Dispose();
            }
        };
    }
}
