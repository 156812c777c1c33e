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
}
