using EquiSharp.Graphs;
using EquiSharp.Neighbourhoods;
using EquiSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Datasets.Molecules;

/// <summary>Node input features of a molecule.</summary>
public enum AtomFeatureKind
{
    /// <summary>One-hot over H, C, N, O, F (5 features; SEGNN, SchNet's embedding).</summary>
    OneHot,

    /// <summary>EGNN's one-hot over H, C, N, O, F times [1, Z/9, (Z/9)²] (15 features).</summary>
    ChargePowers,
}

/// <summary>How molecules become graphs.</summary>
/// <param name="Features">Node features.</param>
/// <param name="Cutoff">Connect atoms at most this far apart (Å, <see cref="RadiusGraph"/>); null: fully connected (no self-loops).</param>
/// <param name="DType">Floating dtype of positions, features and targets.</param>
public sealed record MoleculeGraphOptions(AtomFeatureKind Features = AtomFeatureKind.ChargePowers, double? Cutoff = null, ScalarType DType = ScalarType.Float32)
{
    /// <summary>Number of node features.</summary>
    public int FeatureCount => Features == AtomFeatureKind.OneHot ? 5 : 15;
}

/// <summary>
/// Target normalisation y' = (y − Mean) / Scale per target; errors in normalised units times Scale
/// are errors in the data's units. For energies with forces, forces are divided by Scale[0] too.
/// </summary>
public sealed record TargetNormalizer(double[] Mean, double[] Scale)
{
    /// <summary>No normalisation (mean 0, scale 1) for <paramref name="targets"/> targets.</summary>
    public static TargetNormalizer Identity(int targets) => new(new double[targets], Enumerable.Repeat(1.0, targets).ToArray());

    /// <summary>
    /// Mean and mean absolute deviation (EGNN) or standard deviation of each target over <paramref name="set"/>
    /// (the training split).
    /// </summary>
    public static TargetNormalizer Fit(MoleculeSet set, bool meanAbsoluteDeviation = true)
    {
        int t = set.TargetCount;
        var mean = new double[t];
        var scale = new double[t];
        for (int k = 0; k < t; k++)
        {
            double s = 0;
            for (int m = 0; m < set.Count; m++) s += set.Target(m, k);
            mean[k] = s / set.Count;
            double d = 0;
            for (int m = 0; m < set.Count; m++)
            {
                double r = set.Target(m, k) - mean[k];
                d += meanAbsoluteDeviation ? Math.Abs(r) : r * r;
            }
            scale[k] = meanAbsoluteDeviation ? d / set.Count : Math.Sqrt(d / set.Count);
            if (!(scale[k] > 0)) scale[k] = 1;
        }
        return new TargetNormalizer(mean, scale);
    }

    /// <summary>
    /// Energy/force normalisation: mean energy, and the root mean square of the force components as the
    /// common scale of energies and forces (so that F = −dE/dx holds in normalised units).
    /// </summary>
    public static TargetNormalizer FitEnergyForces(MoleculeSet set)
    {
        if (set.Forces is null || set.TargetCount != 1) throw new ArgumentException("FitEnergyForces needs one energy target and forces.", nameof(set));
        double mean = set.Targets.Average();
        double rms = Math.Sqrt(set.Forces.Average(v => v * v));
        return new TargetNormalizer([mean], [rms > 0 ? rms : 1]);
    }
}

/// <summary>
/// Batches of a <see cref="MoleculeSet"/> for the <see cref="Trainer"/>: Positions [N, 3] (Å),
/// NodeFeatures [N, F] (<see cref="AtomFeatureKind"/>), EdgeIndex (all ordered pairs within a molecule,
/// or those within the cutoff), GraphTarget [G, T] normalised, and NodeTarget = forces / Scale[0] [N, 3]
/// when the set has forces. Edge attributes are left to the models (they derive them from positions,
/// so that forces and symmetry tests see the true dependence on x).
/// </summary>
public sealed class MoleculeBatchSource(MoleculeSet set, MoleculeGraphOptions options, TargetNormalizer? normalizer = null) : IBatchSource
{
    /// <summary>The molecules.</summary>
    public MoleculeSet Set { get; } = set ?? throw new ArgumentNullException(nameof(set));

    /// <summary>The graph options.</summary>
    public MoleculeGraphOptions Options { get; } = options ?? throw new ArgumentNullException(nameof(options));

    /// <summary>The target normalisation.</summary>
    public TargetNormalizer Normalizer { get; } = normalizer ?? TargetNormalizer.Identity(set.TargetCount);

    /// <inheritdoc />
    public int Count => Set.Count;

    /// <summary>The node features of atomic number <paramref name="z"/> written into <paramref name="row"/>.</summary>
    public static void Features(int z, AtomFeatureKind kind, Span<double> row)
    {
        row.Clear();
        int s = Elements.Qm9Index(z);
        if (s < 0) throw new ArgumentException($"Atomic number {z} ({Elements.Symbol(z)}) is not one of H, C, N, O, F.", nameof(z));
        if (kind == AtomFeatureKind.OneHot)
        {
            row[s] = 1;
            return;
        }
        double q = z / (double)Elements.Qm9MaxCharge;
        row[s] = 1;
        row[5 + s] = q;
        row[10 + s] = q * q;
    }

    /// <inheritdoc />
    public GraphBatch CreateBatch(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int g = indices.Count;
        if (g == 0) throw new ArgumentException("CreateBatch: at least one molecule is needed.", nameof(indices));
        int f = Options.FeatureCount, t = Set.TargetCount;
        int n = 0;
        foreach (int m in indices)
        {
            if (m < 0 || m >= Set.Count) throw new ArgumentOutOfRangeException(nameof(indices), m, $"CreateBatch: molecule index outside [0, {Set.Count}).");
            n += Set.Atoms(m);
        }
        var x = new double[3 * n];
        var h = new double[f * n];
        var batch = new long[n];
        var nodeCounts = new long[g];
        var y = new double[g * t];
        var forces = Set.Forces is null ? null : new double[3 * n];
        for (int k = 0, at = 0; k < g; k++)
        {
            int m = indices[k], a0 = Set.Offsets[m], na = Set.Atoms(m);
            Array.Copy(Set.Positions, 3 * a0, x, 3 * at, 3 * na);
            if (forces is not null)
                for (int i = 0; i < 3 * na; i++) forces[3 * at + i] = Set.Forces![3 * a0 + i] / Normalizer.Scale[0];
            for (int i = 0; i < na; i++)
            {
                Features(Set.AtomicNumbers[a0 + i], Options.Features, h.AsSpan((at + i) * f, f));
                batch[at + i] = k;
            }
            nodeCounts[k] = na;
            at += na;
            for (int q = 0; q < t; q++) y[k * t + q] = (Set.Target(m, q) - Normalizer.Mean[q]) / Normalizer.Scale[q];
        }
        var dtype = Options.DType;
        var batchVector = torch.tensor(batch);
        var (edgeIndex, edgeCounts) = Edges(x, batchVector, nodeCounts);
        return new GraphBatch
        {
            Positions = torch.tensor(x, new long[] { n, 3 }, dtype),
            NodeFeatures = torch.tensor(h, new long[] { n, f }, dtype),
            EdgeIndex = edgeIndex,
            GraphTarget = torch.tensor(y, new long[] { g, t }, dtype),
            NodeTarget = forces is null ? null : torch.tensor(forces, new long[] { n, 3 }, dtype),
            Batch = batchVector,
            Ptr = torch.tensor(CumulativeSum(nodeCounts)),
            EdgePtr = torch.tensor(CumulativeSum(edgeCounts)),
            NodeCounts = nodeCounts,
            EdgeCounts = edgeCounts,
        };
    }

    /// <summary>
    /// Every ordered atom pair of a molecule (<see cref="FullyConnectedGraph"/>) or, with a cutoff, the
    /// pairs within it (<see cref="RadiusGraph"/>, on the float64 positions); both sorted by target, then
    /// source. Returns the edge index and the edge count of every molecule.
    /// </summary>
    private (Tensor EdgeIndex, long[] EdgeCounts) Edges(double[] x, Tensor batch, long[] nodeCounts)
    {
        if (Options.Cutoff is not double cutoff)
            return (FullyConnectedGraph.FromNodeCounts(nodeCounts), nodeCounts.Select(c => c * (c - 1)).ToArray());
        using var scope = torch.NewDisposeScope();
        using var positions = torch.tensor(x, new long[] { nodeCounts.Sum(), 3 }, ScalarType.Float64);
        using var neighbours = RadiusGraph.Build(positions, cutoff, batch);
        var counts = batch.index_select(0, neighbours.EdgeIndex[1]).bincount(null, nodeCounts.Length);
        return (neighbours.EdgeIndex.clone().MoveToOuterDisposeScope(), counts.data<long>().ToArray());
    }

    private static long[] CumulativeSum(long[] counts)
    {
        var sums = new long[counts.Length + 1];
        for (int k = 0; k < counts.Length; k++) sums[k + 1] = sums[k] + counts[k];
        return sums;
    }
}
