using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Equivariance;

/// <summary>Which symmetry checks <see cref="EquivarianceChecker"/> runs, how many random samples, and the tolerances.</summary>
/// <remarks>A case passes when max|actual − expected| ≤ <see cref="AbsoluteTolerance"/> +
/// <see cref="RelativeTolerance"/> · scale, with scale = max(max|expected|, max|actual|) of that output.
/// The defaults suit float64 models; for float32 use about 1e-5 relative.</remarks>
public sealed record EquivarianceOptions
{
    /// <summary>Name of the model or function, shown in the report title (default "model").</summary>
    public string Name { get; init; } = "model";

    /// <summary>Random samples per check (default 3).</summary>
    public int Samples { get; init; } = 3;

    /// <summary>Seed of the generator that draws every rotation, translation, permutation and companion graph (default 1234).</summary>
    public long Seed { get; init; } = 1234;

    /// <summary>Tolerance relative to the output's scale (default 1e-9, for float64).</summary>
    public double RelativeTolerance { get; init; } = 1e-9;

    /// <summary>Absolute tolerance added to the relative one, for outputs that are (near) zero (default 1e-12).</summary>
    public double AbsoluteTolerance { get; init; } = 1e-12;

    /// <summary>Check proper rotations SO(d) (default on).</summary>
    public bool Rotations { get; init; } = true;

    /// <summary>Check improper orthogonal transforms, det −1 (default on; turn off for models that are only SE(d) equivariant, e.g. chiral ones).</summary>
    public bool Reflections { get; init; } = true;

    /// <summary>Check translations (default on).</summary>
    public bool Translations { get; init; } = true;

    /// <summary>Check node (and edge) permutations (default on).</summary>
    public bool Permutations { get; init; } = true;

    /// <summary>Check random combinations of rotation/reflection, translation and permutation (default on).</summary>
    public bool Combined { get; init; } = true;

    /// <summary>Check batching invariance: a graph alone vs inside a batch of random graphs (default on; graph models only).</summary>
    public bool Batching { get; init; } = true;

    /// <summary>Also reorder the edges in permutation checks (default on; edge-level outputs follow the edge permutation).</summary>
    public bool PermuteEdges { get; init; } = true;

    /// <summary>Standard deviation of random translations; null (default) uses the RMS distance of the positions from their centroid (1 if that is 0).</summary>
    public double? TranslationScale { get; init; }

    /// <summary>How the input fields transform (defaults: Positions position, NodeVectors vector, the rest invariant).</summary>
    public InputFieldTypes Inputs { get; init; } = new();

    /// <summary>
    /// Optional hook that recomputes derived inputs (e.g. edge attributes from distances, a radius
    /// graph) on every batch the kit builds (transformed batches and batching-check batches; not the
    /// original input). It receives the transformed batch and returns the batch to feed the model.
    /// </summary>
    public Func<GraphBatch, GraphBatch>? RecomputeInputs { get; init; }

    /// <summary>Number of random companion graphs the batching check puts around the graph (default 2).</summary>
    public int BatchingCompanions { get; init; } = 2;

    /// <summary>
    /// Optional generator of companion graphs for the batching check. By default a companion is a
    /// graph of the input batch with permuted nodes, jittered positions and node/edge rows resampled
    /// from the whole input (so its features differ but stay valid, e.g. one-hot).
    /// </summary>
    public Func<Generator, GeometricGraph>? CompanionGraph { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> for out-of-range settings.</summary>
    public void Validate()
    {
        if (Samples < 1) throw new ArgumentException($"Samples must be at least 1, got {Samples}.", nameof(Samples));
        if (!(RelativeTolerance >= 0)) throw new ArgumentException($"RelativeTolerance must be non-negative, got {RelativeTolerance}.", nameof(RelativeTolerance));
        if (!(AbsoluteTolerance >= 0)) throw new ArgumentException($"AbsoluteTolerance must be non-negative, got {AbsoluteTolerance}.", nameof(AbsoluteTolerance));
        if (TranslationScale is double s && !(s > 0 && double.IsFinite(s))) throw new ArgumentException($"TranslationScale must be positive and finite, got {s}.", nameof(TranslationScale));
        if (BatchingCompanions < 1) throw new ArgumentException($"BatchingCompanions must be at least 1, got {BatchingCompanions}.", nameof(BatchingCompanions));
        ArgumentNullException.ThrowIfNull(Inputs, nameof(Inputs));
    }

    /// <summary>Only the permutation check (for non-geometric models): everything else off.</summary>
    public EquivarianceOptions PermutationOnly() => this with
    {
        Rotations = false, Reflections = false, Translations = false, Combined = false, Batching = false, Permutations = true,
    };

    /// <summary>Only the batching-invariance check.</summary>
    public EquivarianceOptions BatchingOnly() => this with
    {
        Rotations = false, Reflections = false, Translations = false, Combined = false, Permutations = false, Batching = true,
    };
}
