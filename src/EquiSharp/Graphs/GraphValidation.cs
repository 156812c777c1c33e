using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Graphs;

/// <summary>Shape, dtype and range checks shared by <see cref="GeometricGraph"/> and <see cref="GraphBatch"/>.</summary>
public static class GraphValidation
{
    /// <summary>Validates one graph; see <see cref="GeometricGraph.Validate"/>.</summary>
    public static void Validate(GeometricGraph graph, string name = "graph") =>
        ValidateParts(name, graph.Positions, graph.EdgeIndex, graph.NodeFeatures, graph.NodeVectors,
            graph.NodeAttributes, graph.EdgeAttributes, graph.NodeTarget);

    internal static void ValidateParts(string name, Tensor positions, Tensor edgeIndex, Tensor? nodeFeatures,
        Tensor? nodeVectors, Tensor? nodeAttributes, Tensor? edgeAttributes, Tensor? nodeTarget)
    {
        if (positions.dim() != 2)
            throw new GraphValidationException($"{name}: Positions must have shape [N, d], got {Shape(positions)}.");
        if (!positions.is_floating_point())
            throw new GraphValidationException($"{name}: Positions must be floating point, got {positions.dtype}.");
        long n = positions.shape[0], d = positions.shape[1];
        if (n > 0)
        {
            using var finite = torch.isfinite(positions).all();
            if (!finite.item<bool>())
            {
                using var bad = (~torch.isfinite(positions)).nonzero();
                long row = bad[0, 0].item<long>(), col = bad[0, 1].item<long>();
                double v = positions[row, col].to_type(ScalarType.Float64).item<double>();
                throw new GraphValidationException($"{name}: Positions[{row}, {col}] is {v}; positions must be finite.");
            }
        }

        CheckEdgeIndex(name, edgeIndex, n);
        long e = edgeIndex.shape[1];
        CheckLeading(name, "NodeFeatures", nodeFeatures, n, "N", 2);
        CheckLeading(name, "NodeAttributes", nodeAttributes, n, "N", 2);
        CheckLeading(name, "NodeTarget", nodeTarget, n, "N", null);
        CheckLeading(name, "EdgeAttributes", edgeAttributes, e, "E", 2);
        if (nodeVectors is not null)
        {
            if (nodeVectors.dim() != 3 || nodeVectors.shape[0] != n || nodeVectors.shape[2] != d)
                throw new GraphValidationException(
                    $"{name}: NodeVectors must have shape [N={n}, C, d={d}], got {Shape(nodeVectors)}.");
        }
        CheckDevice(name, positions, ("EdgeIndex", edgeIndex), ("NodeFeatures", nodeFeatures), ("NodeVectors", nodeVectors),
            ("NodeAttributes", nodeAttributes), ("EdgeAttributes", edgeAttributes), ("NodeTarget", nodeTarget));
    }

    /// <summary>Checks that an edge index is int64 [2, E] with every entry in [0, numNodes).</summary>
    public static void CheckEdgeIndex(string name, Tensor edgeIndex, long numNodes)
    {
        if (edgeIndex.dim() != 2 || edgeIndex.shape[0] != 2)
            throw new GraphValidationException($"{name}: EdgeIndex must have shape [2, E], got {Shape(edgeIndex)}.");
        if (edgeIndex.dtype != ScalarType.Int64)
            throw new GraphValidationException($"{name}: EdgeIndex must be int64, got {edgeIndex.dtype}.");
        if (edgeIndex.shape[1] == 0) return;
        using var outOfRange = (edgeIndex < 0).logical_or(edgeIndex >= numNodes);
        using var any = outOfRange.any();
        if (any.item<bool>())
        {
            using var bad = outOfRange.nonzero();
            long row = bad[0, 0].item<long>(), col = bad[0, 1].item<long>();
            long value = edgeIndex[row, col].item<long>();
            string role = row == 0 ? "source" : "target";
            throw new GraphValidationException(
                $"{name}: EdgeIndex[{row}, {col}] ({role} of edge {col}) is {value}, outside [0, {numNodes}) for a graph with {numNodes} nodes.");
        }
    }

    private static void CheckLeading(string name, string field, Tensor? t, long expected, string symbol, int? rank)
    {
        if (t is null) return;
        if (rank is int r && t.dim() != r)
            throw new GraphValidationException($"{name}: {field} must have {r} dimensions [{symbol}, ...], got {Shape(t)}.");
        if (t.dim() == 0 || t.shape[0] != expected)
            throw new GraphValidationException($"{name}: {field} has shape {Shape(t)}; its first dimension must be {symbol} = {expected}.");
    }

    private static void CheckDevice(string name, Tensor reference, params (string Field, Tensor? Tensor)[] others)
    {
        foreach (var (field, t) in others)
            if (t is not null && t.device_type != reference.device_type)
                throw new GraphValidationException($"{name}: {field} is on {t.device}, Positions on {reference.device}.");
    }

    /// <summary>Formats a tensor shape as [a, b, c].</summary>
    public static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
