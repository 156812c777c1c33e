namespace EquiSharp.Datasets.NBody;

/// <summary>
/// Regenerates the EGNN reference data set (<c>generate_dataset.py --num-train 10000 --seed 43
/// --sufix small</c> of the official EGNN code, used by EGNN, SEGNN and PONITA) without Python: the
/// same NumPy legacy random stream (<see cref="NumPyLegacyRandom"/>) consumed in the same order, and
/// the same arithmetic as the reference simulator.
/// </summary>
/// <remarks>
/// <para>Stream order: one <c>np.random.seed(seed)</c>, then the training trajectories, then
/// validation, then test, each trajectory drawing P charges (<c>choice([-1, 0, 1], p=[1-p, 0, p])</c>),
/// 3·P position normals and 3·P velocity normals (both laid out [3, P]), then two blocks of
/// Frames·3·P normals that the reference adds to the frames multiplied by a noise variance of 0
/// (drawn and discarded here, so that the stream stays in step). The reference drew 10,000 training
/// trajectories and used the first 3,000, so validation and test start after 10,000 draws.</para>
/// <para>Charges and initial states are therefore bit-identical to the reference's. The trajectories
/// follow its arithmetic (squared distances as |a|² + |b|² − 2a·b, |r|³ as pow(r², 1.5), forces
/// summed over j in order, per-component clipping, the initial reflection into the box [−5, 5]) and
/// agree with its files to rounding; rounding differences grow during close encounters, as they do
/// between two NumPy builds (the reference's a·b comes from whichever BLAS NumPy was linked with).</para>
/// </remarks>
public static class NBodyNumPyReference
{
    /// <summary>Training trajectories the reference script drew before the validation split (its <c>--num-train</c>).</summary>
    public const int ReferenceTrainDraws = 10000;

    /// <summary>Half-width of the reference simulator's box, applied once to the initial state.</summary>
    public const double BoxSize = 5.0;

    /// <summary>
    /// Simulates the splits of the reference stream. Split k uses the first <c>sizes[k]</c> of its
    /// <c>max(sizes[k], draws[k])</c> trajectories; the draws of the unused ones are consumed.
    /// </summary>
    /// <param name="seed">The NumPy seed (the reference used 43).</param>
    /// <param name="sizes">Trajectories to keep per split.</param>
    /// <param name="draws">Trajectories the reference drew per split (default 10000/2000/2000).</param>
    /// <param name="options">Simulation settings (benchmark defaults when null); <c>Steps</c> must be a multiple of <c>RecordEvery</c>, as the reference asserts.</param>
    /// <param name="maxParallelism">Worker threads for the integration (the random draws are sequential).</param>
    public static NBodyTrajectories[] Simulate(uint seed, NBodySplitSizes sizes, NBodySplitSizes? draws = null,
        NBodySimulationOptions? options = null, int? maxParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        options ??= new NBodySimulationOptions();
        options.Validate();
        draws ??= new NBodySplitSizes(ReferenceTrainDraws, 2000, 2000);
        if (options.Steps % options.RecordEvery != 0)
            throw new ArgumentException($"The NumPy reference stream needs Steps ({options.Steps}) to be a multiple of RecordEvery ({options.RecordEvery}), as the reference script asserts.", nameof(options));
        int p = options.Particles, n = 3 * p, frames = options.Frames;
        var rng = new NumPyLegacyRandom(seed);
        double[] chargeProbabilities = { 1 - options.PositiveChargeProbability, 0, options.PositiveChargeProbability };
        double[] chargeValues = { -1, 0, 1 };
        var gaussians = new double[n];
        var discarded = new double[2 * n]; // x and v of trajectories that are drawn but not kept
        var result = new NBodyTrajectories[3];
        foreach (var split in Enum.GetValues<NBodySplit>())
        {
            int keep = sizes[split];
            if (keep < 0) throw new ArgumentOutOfRangeException(nameof(sizes), keep, $"The {split} size must be non-negative.");
            int drawn = Math.Max(keep, draws[split]);
            // Initial states of the kept trajectories, [keep, 2, P·3] (x then v, our [P, 3] layout), and charges.
            var initial = new double[(long)keep * 2 * n];
            var charges = new double[(long)keep * p];
            var q = new double[p];
            for (int t = 0; t < drawn; t++)
            {
                for (int i = 0; i < p; i++) q[i] = chargeValues[rng.Choice(chargeProbabilities)];
                var x = t < keep ? initial.AsSpan(t * 2 * n, n) : discarded.AsSpan(0, n);
                var v = t < keep ? initial.AsSpan(t * 2 * n + n, n) : discarded.AsSpan(n, n);
                rng.FillGaussian(gaussians);
                for (int c = 0; c < 3; c++)
                    for (int i = 0; i < p; i++) x[3 * i + c] = gaussians[c * p + i] * options.PositionStd;
                rng.FillGaussian(gaussians);
                for (int i = 0; i < p; i++)
                {
                    double g0 = gaussians[i], g1 = gaussians[p + i], g2 = gaussians[2 * p + i];
                    double norm = Math.Sqrt(g0 * g0 + g1 * g1 + g2 * g2);
                    v[3 * i] = g0 * options.VelocityNorm / norm;
                    v[3 * i + 1] = g1 * options.VelocityNorm / norm;
                    v[3 * i + 2] = g2 * options.VelocityNorm / norm;
                }
                if (t < keep)
                {
                    ReflectIntoBox(x, v, split, t);
                    q.CopyTo(charges.AsSpan(t * p, p));
                }
                // loc += randn(T_save, 3, P) * noise_var; vel += randn(...) * noise_var (noise_var = 0).
                rng.SkipGaussians(2L * frames * n);
            }
            long block = (long)frames * n;
            var positions = new double[block * keep];
            var velocities = new double[block * keep];
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxParallelism ?? Environment.ProcessorCount };
            Parallel.For(0, keep, parallel, () => new double[3 * n + p * p], (t, _, scratch) =>
            {
                initial.AsSpan(t * 2 * n, n).CopyTo(scratch.AsSpan(0, n));
                initial.AsSpan(t * 2 * n + n, n).CopyTo(scratch.AsSpan(n, n));
                Integrate(options, scratch, charges.AsSpan(t * p, p),
                    positions.AsSpan((int)(t * block), (int)block), velocities.AsSpan((int)(t * block), (int)block));
                return scratch;
            }, _ => { });
            result[(int)split] = new NBodyTrajectories(keep, frames, p, positions, velocities, charges);
        }
        return result;
    }

    /// <summary>
    /// The reference simulator's forces: squared distances as (|x_i|² + |x_j|²) − 2 x_i·x_j, the
    /// pair factor k q_i q_j / pow(r², 1.5), F_i = Σ_j factor_ij (x_i − x_j) summed over j in order,
    /// each component clipped to ±clip. Flat [P·3] positions and forces; <paramref name="factor"/> is
    /// [P·P] scratch.
    /// </summary>
    public static void Forces(ReadOnlySpan<double> x, ReadOnlySpan<double> q, Span<double> force, Span<double> factor,
        double strength = 1.0, double clip = 100.0)
    {
        int p = q.Length;
        if (x.Length != 3 * p || force.Length != 3 * p || factor.Length < p * p)
            throw new ArgumentException($"Forces: positions ({x.Length}), forces ({force.Length}) need 3·P = {3 * p} values and the scratch P² = {p * p}.");
        for (int i = 0; i < p; i++)
        {
            double xi0 = x[3 * i], xi1 = x[3 * i + 1], xi2 = x[3 * i + 2];
            double ni = xi0 * xi0 + xi1 * xi1 + xi2 * xi2;
            for (int j = 0; j < p; j++)
            {
                if (j == i) { factor[i * p + j] = 0; continue; }
                double xj0 = x[3 * j], xj1 = x[3 * j + 1], xj2 = x[3 * j + 2];
                double nj = xj0 * xj0 + xj1 * xj1 + xj2 * xj2;
                double dot = Math.FusedMultiplyAdd(xi2, xj2, Math.FusedMultiplyAdd(xi1, xj1, xi0 * xj0));
                double r2 = ni + nj - 2 * dot;
                factor[i * p + j] = strength * (q[i] * q[j]) / Math.Pow(r2, 1.5);
            }
        }
        for (int i = 0; i < p; i++)
            for (int c = 0; c < 3; c++)
            {
                double sum = 0, xic = x[3 * i + c];
                for (int j = 0; j < p; j++) sum += factor[i * p + j] * (xic - x[3 * j + c]);
                force[3 * i + c] = sum > clip ? clip : sum < -clip ? -clip : sum;
            }
    }

    private static void Integrate(NBodySimulationOptions o, double[] scratch, ReadOnlySpan<double> q, Span<double> outX, Span<double> outV)
    {
        int p = o.Particles, n = 3 * p;
        double strength = o.InteractionStrength, clip = o.ForceClip;
        NBodySimulator.Integrate(o, scratch.AsSpan(0, n), scratch.AsSpan(n, n), q, scratch.AsSpan(2 * n, n), outX, outV,
            (x, charges, f) => Forces(x, charges, f, scratch.AsSpan(3 * n, p * p), strength, clip));
    }

    // The reference's _clamp on the initial state: reflect coordinates beyond ±BoxSize and point the velocity inwards.
    private static void ReflectIntoBox(Span<double> x, Span<double> v, NBodySplit split, int trajectory)
    {
        for (int k = 0; k < x.Length; k++)
        {
            if (!(Math.Abs(x[k]) < 3 * BoxSize))
                throw new InvalidOperationException($"{split} trajectory {trajectory}: initial coordinate {x[k]} is outside ±{3 * BoxSize}, where the reference simulator stops with an assertion.");
            if (x[k] > BoxSize) { x[k] = 2 * BoxSize - x[k]; v[k] = -Math.Abs(v[k]); }
            else if (x[k] < -BoxSize) { x[k] = -2 * BoxSize - x[k]; v[k] = Math.Abs(v[k]); }
        }
    }
}
