using System.Runtime.InteropServices;
using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Neighbourhoods;

/// <summary>Validated host copy of positions and graph segments shared by the neighbour searches.</summary>
internal sealed class NeighbourInput
{
    /// <summary>Coordinates, row-major [N * D], float64.</summary>
    public required double[] Coords { get; init; }
    public required int N { get; init; }
    public required int D { get; init; }
    /// <summary>Node offsets [G + 1] of the non-empty runs of equal batch values.</summary>
    public required long[] Ptr { get; init; }
    public required Device Device { get; init; }

    public static NeighbourInput FromBatch(string method, Tensor positions, Tensor? batch)
    {
        var (n, d) = CheckPositionsShape(method, positions);
        long[] ptr = batch is null ? [0, n] : PtrFromBatch(method, batch, n);
        return Create(method, positions, n, d, ptr);
    }

    public static NeighbourInput FromGraphBatch(string method, GraphBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (n, d) = CheckPositionsShape(method, batch.Positions);
        var ptr = new long[batch.NodeCounts.Length + 1];
        for (int g = 0; g < batch.NodeCounts.Length; g++)
        {
            if (batch.NodeCounts[g] < 0)
                throw new GraphValidationException($"{method}: GraphBatch.NodeCounts[{g}] is {batch.NodeCounts[g]}; node counts must be non-negative.");
            ptr[g + 1] = ptr[g] + batch.NodeCounts[g];
        }
        if (ptr[^1] != n)
            throw new GraphValidationException($"{method}: GraphBatch.NodeCounts sum to {ptr[^1]} but Positions has N = {n} rows.");
        return Create(method, batch.Positions, n, d, ptr);
    }

    private static (int N, int D) CheckPositionsShape(string method, Tensor positions)
    {
        ArgumentNullException.ThrowIfNull(positions);
        if (positions.dim() != 2 || positions.shape[1] < 1)
            throw new GraphValidationException($"{method}: positions must have shape [N, d] with d >= 1, got {GraphValidation.Shape(positions)}.");
        if (!positions.is_floating_point())
            throw new GraphValidationException($"{method}: positions must be floating point (float32 or float64), got {positions.dtype}.");
        if (positions.shape[0] > int.MaxValue / 2)
            throw new GraphValidationException($"{method}: at most {int.MaxValue / 2} points are supported, got N = {positions.shape[0]}.");
        return ((int)positions.shape[0], (int)positions.shape[1]);
    }

    internal static long[] PtrFromBatch(string method, Tensor batch, int n)
    {
        if (batch.dim() != 1 || batch.shape[0] != n)
            throw new GraphValidationException($"{method}: batch must have shape [N = {n}], got {GraphValidation.Shape(batch)}.");
        if (batch.dtype != ScalarType.Int64)
            throw new GraphValidationException($"{method}: batch must be int64, got {batch.dtype}.");
        if (n == 0) return [0, 0];
        long[] b;
        using (var cpu = batch.detach().cpu().contiguous())
            b = cpu.data<long>().ToArray();
        if (b[0] < 0)
            throw new GraphValidationException($"{method}: batch[0] is {b[0]}; graph indices must be non-negative.");
        var ptr = new List<long> { 0 };
        for (int i = 1; i < n; i++)
        {
            if (b[i] < b[i - 1])
                throw new GraphValidationException(
                    $"{method}: batch must be sorted non-decreasing (nodes of a graph contiguous), but batch[{i}] = {b[i]} < batch[{i - 1}] = {b[i - 1]}.");
            if (b[i] != b[i - 1]) ptr.Add(i);
        }
        ptr.Add(n);
        return ptr.ToArray();
    }

    private static NeighbourInput Create(string method, Tensor positions, int n, int d, long[] ptr)
    {
        double[] coords;
        using (var host = positions.detach().cpu().to_type(ScalarType.Float64).contiguous())
            coords = n == 0 ? [] : host.data<double>().ToArray();
        for (int k = 0; k < coords.Length; k++)
        {
            if (!double.IsFinite(coords[k]))
                throw new GraphValidationException(
                    $"{method}: positions[{k / d}, {k % d}] is {coords[k]}; point {k / d} is not finite (positions must be finite).");
        }
        return new NeighbourInput { Coords = coords, N = n, D = d, Ptr = ptr, Device = positions.device };
    }
}

/// <summary>Builds int64 edge-index tensors by writing straight into their storage.</summary>
internal static class EdgeTensor
{
    private const long Chunk = 1L << 26;

    /// <summary>
    /// Allocates [2, E] int64 on the CPU and fills [start, start + len) of row <c>r</c> through
    /// <paramref name="fill"/>(row, start, span) in chunks of at most 2^26 entries.
    /// </summary>
    public static Tensor Create(long numEdges, Action<int, long, Span<long>> fill)
    {
        var t = torch.empty([2, numEdges], ScalarType.Int64);
        for (int r = 0; r < 2; r++)
            for (long s = 0; s < numEdges; s += Chunk)
            {
                long len = Math.Min(Chunk, numEdges - s);
                using var rowView = t[r];
                using var view = rowView.narrow(0, s, len);
                fill(r, s, MemoryMarshal.Cast<byte, long>(view.bytes));
            }
        return t;
    }

    /// <summary>
    /// Address of the first element of row <paramref name="row"/> of a contiguous CPU int64 [2, E]
    /// tensor with E ≥ 1 (the row is contiguous; the caller keeps the tensor alive while writing).
    /// </summary>
    public static unsafe long* RowPointer(Tensor t, int row)
    {
        using var rowView = t[row];
        using var first = rowView.narrow(0, 0, 1);
        fixed (byte* p = first.bytes) return (long*)p;
    }

    /// <summary>Moves a CPU edge index to the positions' device and adds the requested geometry.</summary>
    public static NeighbourList Finish(Tensor edgeIndexCpu, Tensor positions, bool computeGeometry, long dropped, long truncated)
    {
        var device = positions.device;
        var edgeIndex = device.type == DeviceType.CPU ? edgeIndexCpu : edgeIndexCpu.to(device);
        if (!ReferenceEquals(edgeIndex, edgeIndexCpu)) edgeIndexCpu.Dispose();
        Tensor? vectors = null, distances = null;
        if (computeGeometry)
        {
            using var src = edgeIndex[0];
            using var dst = edgeIndex[1];
            using var xj = positions.index_select(0, src);
            using var xi = positions.index_select(0, dst);
            vectors = xj - xi;
            distances = torch.linalg.vector_norm(vectors, dims: [1]);
        }
        return new NeighbourList
        {
            EdgeIndex = edgeIndex,
            DroppedEdges = dropped,
            TruncatedNodes = truncated,
            Vectors = vectors,
            Distances = distances,
        };
    }
}
