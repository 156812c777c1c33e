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
            long[] RowCounts(FieldLevel level) => level switch
            {
                FieldLevel.Node => batch.NodeCounts,
                FieldLevel.Edge => batch.EdgeCounts,
                _ => Enumerable.Repeat(1L, graphs).ToArray(),
            };
            return fields.Map(batch, (x, type, level) =>
            {
                if (ReferenceEquals(type, FieldType.Invariant) || ReferenceEquals(type, FieldType.Pseudoscalar))
                    return x.clone(); // det R = +1 for rotations
                using var scope = torch.NewDisposeScope();
                var counts = RowCounts(level);
                if (x.shape[0] != counts.Sum())
                    throw new ArgumentException($"it has {x.shape[0]} rows; the batch has {counts.Sum()} at {level.ToString().ToLowerInvariant()} level.");
                if (ReferenceEquals(type, FieldType.Position) || ReferenceEquals(type, FieldType.Vector) || ReferenceEquals(type, FieldType.Pseudovector))
                {
                    long d = rotations.shape[1];
                    if (x.shape[^1] != d) throw new ArgumentException($"its last axis must have size {d}.");
                    var rowGraph = torch.repeat_interleave(torch.arange(graphs, device: x.device), torch.tensor(counts, device: x.device), output_size: x.shape[0]);
                    var r = rotations.to(x.dtype, x.device).index_select(0, rowGraph);                // [rows, d, d]
                    return x.reshape(x.shape[0], -1, d).bmm(r.transpose(1, 2)).reshape(x.shape).MoveToOuterDisposeScope();
                }
                var parts = new List<Tensor>(graphs);
                long start = 0;
                for (int g = 0; g < graphs; g++)
                {
                    parts.Add(type.Apply(x.narrow(0, start, counts[g]), new EuclideanTransform(rotations[g])));
                    start += counts[g];
                }
                return torch.cat(parts, 0).MoveToOuterDisposeScope();
            });
        };
    }
}
