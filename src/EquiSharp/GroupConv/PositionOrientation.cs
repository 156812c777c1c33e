using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.GroupConv;

/// <summary>
/// Position–orientation space R^d × S^(d−1) on a fixed orientation grid [O, d] (PONITA, Bekkers et al. 2024):
/// lifting point-cloud features to functions on the grid, the pair invariants of two (position,
/// orientation) points, and the readout back to scalars and vectors.
/// </summary>
/// <remarks>
/// A rotation R that maps the grid onto itself (R o_k = o_π(k)) permutes the lifted features, the
/// invariants and hence every layer along the orientation axis; the readouts then transform exactly as
/// scalars and vectors. For other rotations the grid is only an approximation of the sphere and
/// equivariance holds up to the grid's discretisation error.
/// </remarks>
public static class PositionOrientation
{
    /// <summary>
    /// Lifts node scalars [N, S] (copied to every orientation) and vectors [N, V, d] (projected onto each
    /// orientation, v · o) to features on the grid [N, O, S + V] (scalars first). Either may be null.
    /// </summary>
    public static Tensor Lift(Tensor? scalars, Tensor? vectors, Tensor grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        long o = grid.shape[0], d = grid.shape[1];
        var parts = new List<Tensor>(2);
        long n = -1;
        if (scalars is not null)
        {
            if (scalars.dim() != 2)
                throw new GraphValidationException($"Lift: scalars have shape {GraphValidation.Shape(scalars)}; expected [N, S].");
            n = scalars.shape[0];
            parts.Add(scalars.unsqueeze(1).expand(n, o, scalars.shape[1]));
        }
        if (vectors is not null)
        {
            if (vectors.dim() != 3 || vectors.shape[2] != d || (n >= 0 && vectors.shape[0] != n))
                throw new GraphValidationException($"Lift: vectors have shape {GraphValidation.Shape(vectors)}; expected [N{(n >= 0 ? $" = {n}" : "")}, V, {d}].");
            parts.Add(vectors.matmul(grid.t()).transpose(1, 2)); // [N, O, V]
        }
        if (parts.Count == 0) throw new ArgumentException("Lift needs scalars or vectors.");
        return parts.Count == 1 ? parts[0].contiguous() : torch.cat(parts, 2);
    }

    /// <summary>
    /// The spatial pair invariants [E, O, 2] of relative positions r = x_j − x_i [E, d] and the orientation
    /// o_k of the receiving point: (r · o_k, |r − (r · o_k) o_k|).
    /// </summary>
    public static Tensor SpatialInvariants(Tensor relative, Tensor grid)
    {
        ArgumentNullException.ThrowIfNull(relative);
        ArgumentNullException.ThrowIfNull(grid);
        if (relative.dim() != 2 || relative.shape[1] != grid.shape[1])
            throw new GraphValidationException($"SpatialInvariants: relative positions have shape {GraphValidation.Shape(relative)}; expected [E, {grid.shape[1]}].");
        var along = relative.matmul(grid.t());                                        // [E, O]
        var perpendicular = (relative.unsqueeze(1) - along.unsqueeze(2) * grid).norm(2, keepdim: false); // [E, O]
        return torch.stack(new[] { along, perpendicular }, 2);
    }

    /// <summary>The orientation pair invariant o_k · o_l [O, O, 1].</summary>
    public static Tensor FiberInvariants(Tensor grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        return grid.matmul(grid.t()).unsqueeze(2);
    }

    /// <summary>
    /// Reads features on the grid [N, O, S + V] out to scalars [N, S] (mean over the grid) and vectors
    /// [N, V, d] (the grid average of f(o) o, the discrete integral over the sphere divided by its area).
    /// </summary>
    public static (Tensor Scalars, Tensor Vectors) Readout(Tensor features, Tensor grid, int scalars)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 3 || features.shape[1] != grid.shape[0] || scalars < 0 || scalars > features.shape[2])
            throw new GraphValidationException($"Readout: features have shape {GraphValidation.Shape(features)}; expected [N, O = {grid.shape[0]}, C ≥ {scalars}].");
        long o = grid.shape[0];
        var s = features.narrow(2, 0, scalars).mean(new long[] { 1 });
        var v = features.narrow(2, scalars, features.shape[2] - scalars).transpose(1, 2).matmul(grid) / o; // [N, V, d]
        return (s, v);
    }
}
