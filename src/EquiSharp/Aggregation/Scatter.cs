using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Aggregation;

/// <summary>
/// Scatter reductions over the first dimension with autograd: rows of <c>src</c> [E, ...] are
/// reduced into <c>dimSize</c> rows according to <c>index</c> [E] (typically the target row of an
/// edge index, so that each node reduces its incoming messages).
/// </summary>
/// <remarks>
/// <para>Routes: sum and mean use libtorch's <c>index_add</c> (differentiable). TorchSharp 0.107
/// exposes no <c>scatter_reduce</c>/<c>index_reduce</c>, so max and min call libtorch's
/// <c>scatter_reduce(amax/amin, include_self=False)</c> through a TorchScript function compiled
/// once per process from a string (<see cref="torch.jit.compile"/>): one native op, with
/// libtorch's own backward (the gradient of tied maxima is shared equally among them, as in PyTorch).
/// Softmax subtracts the per-node maximum (detached: a constant shift leaves softmax unchanged)
/// before exponentiating, so it is stable for large inputs.</para>
/// <para>Every result has exactly <c>dimSize</c> rows; rows that receive nothing are 0. The index
/// must be int64 and within [0, dimSize); violations raise <see cref="ArgumentException"/> naming the
/// shapes and the offending value.</para>
/// </remarks>
public static class Scatter
{
    private const string TorchScriptSource = @"
def scatter_amax(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    shape = list(src.shape)
    shape[0] = dim_size
    idx = index.view([-1] + [1] * (src.dim() - 1)).expand_as(src)
    out = torch.zeros(shape, dtype=src.dtype, device=src.device)
    return out.scatter_reduce(0, idx, src, 'amax', include_self=False)

def scatter_amin(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    shape = list(src.shape)
    shape[0] = dim_size
    idx = index.view([-1] + [1] * (src.dim() - 1)).expand_as(src)
    out = torch.zeros(shape, dtype=src.dtype, device=src.device)
    return out.scatter_reduce(0, idx, src, 'amin', include_self=False)
";

    private static readonly Lazy<torch.jit.CompilationUnit> Compiled = new(() => torch.jit.compile(TorchScriptSource));

    /// <summary>Check that index values lie in [0, dimSize) (two small reductions per call). On by default.</summary>
    public static bool CheckIndexRange { get; set; } = true;

    /// <summary>out[k] = SUM over e with index[e] = k of src[e].</summary>
    public static Tensor Sum(Tensor src, Tensor index, long dimSize)
    {
        Check(src, index, dimSize, nameof(Sum));
        var shape = src.shape.ToArray();
        shape[0] = dimSize;
        return torch.zeros(shape, dtype: src.dtype, device: src.device).index_add(0, index, src, 1);
    }

    /// <summary>Number of entries of <paramref name="index"/> equal to each k in [0, dimSize), as int64 [dimSize].</summary>
    public static Tensor Count(Tensor index, long dimSize)
    {
        CheckIndex(index, dimSize, nameof(Count), null);
        return torch.bincount(index, minlength: dimSize);
    }

    /// <summary>Mean of the rows sent to each k; 0 where none arrive.</summary>
    public static Tensor Mean(Tensor src, Tensor index, long dimSize)
    {
        using var scope = torch.NewDisposeScope();
        var sum = Sum(src, index, dimSize);
        var count = torch.bincount(index, minlength: dimSize).clamp_min(1).to_type(src.dtype);
        var shape = new long[src.dim()];
        Array.Fill(shape, 1L);
        shape[0] = dimSize;
        return (sum / count.view(shape)).MoveToOuterDisposeScope();
    }

    /// <summary>Per-channel maximum of the rows sent to each k; 0 where none arrive.</summary>
    public static Tensor Max(Tensor src, Tensor index, long dimSize)
    {
        Check(src, index, dimSize, nameof(Max));
        return (Tensor)Compiled.Value.invoke("scatter_amax", src, index, dimSize);
    }

    /// <summary>Per-channel minimum of the rows sent to each k; 0 where none arrive.</summary>
    public static Tensor Min(Tensor src, Tensor index, long dimSize)
    {
        Check(src, index, dimSize, nameof(Min));
        return (Tensor)Compiled.Value.invoke("scatter_amin", src, index, dimSize);
    }

    /// <summary>
    /// Softmax of <paramref name="src"/> [E, ...] over the entries sharing an index, per channel:
    /// out[e] = exp(src[e]) / SUM over e' with index[e'] = index[e] of exp(src[e']). Shape [E, ...].
    /// </summary>
    public static Tensor Softmax(Tensor src, Tensor index, long dimSize)
    {
        Check(src, index, dimSize, nameof(Softmax));
        using var scope = torch.NewDisposeScope();
        Tensor max;
        using (torch.no_grad())
            max = (Tensor)Compiled.Value.invoke("scatter_amax", src.detach(), index, dimSize);
        var exp = (src - max.index_select(0, index)).exp();
        var shape = src.shape.ToArray();
        shape[0] = dimSize;
        var denom = torch.zeros(shape, dtype: src.dtype, device: src.device).index_add(0, index, exp, 1);
        return (exp / denom.index_select(0, index)).MoveToOuterDisposeScope();
    }

    /// <summary>Reduces <paramref name="src"/> with the chosen <see cref="Aggregation"/>.</summary>
    public static Tensor Aggregate(Tensor src, Tensor index, long dimSize, Aggregation aggregation) => aggregation switch
    {
        Aggregation.Sum => Sum(src, index, dimSize),
        Aggregation.Mean => Mean(src, index, dimSize),
        Aggregation.Max => Max(src, index, dimSize),
        Aggregation.Min => Min(src, index, dimSize),
        Aggregation.Softmax => SoftmaxWeightedSum(src, index, dimSize),
        _ => throw new ArgumentOutOfRangeException(nameof(aggregation), aggregation, "Unknown aggregation."),
    };

    private static Tensor SoftmaxWeightedSum(Tensor src, Tensor index, long dimSize)
    {
        using var scope = torch.NewDisposeScope();
        var weights = Softmax(src, index, dimSize);
        return Sum(weights * src, index, dimSize).MoveToOuterDisposeScope();
    }

    private static void Check(Tensor src, Tensor index, long dimSize, string op)
    {
        if (src.dim() == 0)
            throw new ArgumentException($"Scatter.{op}: src must have at least one dimension [E, ...], got a scalar.", nameof(src));
        CheckIndex(index, dimSize, op, src);
    }

    private static void CheckIndex(Tensor index, long dimSize, string op, Tensor? src)
    {
        if (dimSize < 0)
            throw new ArgumentOutOfRangeException(nameof(dimSize), dimSize, $"Scatter.{op}: dimSize must be non-negative.");
        if (index.dtype != ScalarType.Int64)
            throw new ArgumentException($"Scatter.{op}: index must be int64, got {index.dtype}.", nameof(index));
        if (index.dim() != 1)
            throw new ArgumentException($"Scatter.{op}: index must have shape [E], got {GraphValidation.Shape(index)}.", nameof(index));
        if (src is not null && src.shape[0] != index.shape[0])
            throw new ArgumentException(
                $"Scatter.{op}: index has shape {GraphValidation.Shape(index)} but src has shape {GraphValidation.Shape(src)}; their first dimensions must match.", nameof(index));
        if (src is not null && src.device_type != index.device_type)
            throw new ArgumentException($"Scatter.{op}: index is on {index.device}, src on {src.device}.", nameof(index));
        if (!CheckIndexRange || index.shape[0] == 0) return;
        using var minT = index.min();
        using var maxT = index.max();
        long min = minT.item<long>(), max = maxT.item<long>();
        if (min < 0 || max >= dimSize)
        {
            long bad = min < 0 ? min : max;
            throw new ArgumentException($"Scatter.{op}: index contains {bad}, outside [0, dimSize = {dimSize}).", nameof(index));
        }
    }
}
