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
            int graphs = batch.NodeCounts.Length;
            var rotations = Rotations.RandomSpecialOrthogonal((int)batch.Positions.shape[1], graphs,
                dtype: batch.Positions.dtype, device: batch.Positions.device);                        // [G, d, d]
            using var scope = torch.NewDisposeScope();
            var nodeGraph = batch.Batch;
            var edgeGraph = torch.repeat_interleave(torch.arange(graphs, device: batch.Positions.device),
                torch.tensor(batch.EdgeCounts, device: batch.Positions.device), output_size: batch.EdgeIndex.shape[1]);
            var graphRows = torch.arange(graphs, device: batch.Positions.device);
            Tensor? T(Tensor? x, FieldType type, Tensor rowGraph, long[] rowCounts, string field)
            {
                if (x is null) return null;
                if (ReferenceEquals(type, FieldType.Invariant) || ReferenceEquals(type, FieldType.Pseudoscalar))
                    return x.clone().MoveToOuterDisposeScope(); // det R = +1 for rotations
                if (x.shape[0] != rowGraph.shape[0])
                    throw new ArgumentException($"Input {field} {GraphValidation.Shape(x)} has {x.shape[0]} rows; the batch has {rowGraph.shape[0]}.");
                if (ReferenceEquals(type, FieldType.Position) || ReferenceEquals(type, FieldType.Vector) || ReferenceEquals(type, FieldType.Pseudovector))
                {
                    long d = rotations.shape[1];
                    if (x.shape[^1] != d)
                        throw new ArgumentException($"Input {field} {GraphValidation.Shape(x)} cannot be rotated as '{type.Name}': its last axis must have size {d}.");
                    var r = rotations.to(x.dtype, x.device).index_select(0, rowGraph);             // [rows, d, d]
                    return x.reshape(x.shape[0], -1, d).bmm(r.transpose(1, 2)).reshape(x.shape).MoveToOuterDisposeScope();
                }
                var parts = new List<Tensor>(graphs);
                long start = 0;
                for (int g = 0; g < graphs; g++)
                {
                    var slice = x.narrow(0, start, rowCounts[g]);
                    start += rowCounts[g];
                    try { parts.Add(type.Apply(slice, new EuclideanTransform(rotations[g]))); }
                    catch (ArgumentException e)
                    {
                        throw new ArgumentException($"Input {field} {GraphValidation.Shape(x)} cannot be transformed as '{type.Name}': {e.Message}", e);
                    }
                }
                return torch.cat(parts, 0).MoveToOuterDisposeScope();
            }
            var ones = Enumerable.Repeat(1L, graphs).ToArray();
            var result = batch with
            {
                Positions = T(batch.Positions, fields.Positions, nodeGraph, batch.NodeCounts, "Positions")!,
                EdgeIndex = batch.EdgeIndex.clone().MoveToOuterDisposeScope(),
                Batch = batch.Batch.clone().MoveToOuterDisposeScope(),
                Ptr = batch.Ptr.clone().MoveToOuterDisposeScope(),
                EdgePtr = batch.EdgePtr.clone().MoveToOuterDisposeScope(),
                NodeFeatures = T(batch.NodeFeatures, fields.NodeFeatures, nodeGraph, batch.NodeCounts, "NodeFeatures"),
                NodeVectors = T(batch.NodeVectors, fields.NodeVectors, nodeGraph, batch.NodeCounts, "NodeVectors"),
                NodeAttributes = T(batch.NodeAttributes, fields.NodeAttributes, nodeGraph, batch.NodeCounts, "NodeAttributes"),
                EdgeAttributes = T(batch.EdgeAttributes, fields.EdgeAttributes, edgeGraph, batch.EdgeCounts, "EdgeAttributes"),
                NodeTarget = T(batch.NodeTarget, fields.NodeTarget, nodeGraph, batch.NodeCounts, "NodeTarget"),
                GraphTarget = T(batch.GraphTarget, fields.GraphTarget, graphRows, ones, "GraphTarget"),
            };
            rotations.Dispose();
            return result;
        };
    }
}
