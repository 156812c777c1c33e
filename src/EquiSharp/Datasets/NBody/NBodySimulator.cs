namespace EquiSharp.Datasets.NBody;

/// <summary>
/// Settings of the charged-particle simulation. The defaults are the EGNN/SEGNN/PONITA benchmark
/// protocol (docs/nbody.md): 5 unit-mass particles with charges ±1, Coulomb forces with every
/// Cartesian component clipped to ±100, dt = 0.001, 5000 steps, a frame every 100 steps.
/// </summary>
/// <param name="Particles">Particles per system.</param>
/// <param name="Steps">Integration steps T; positions are updated at s = 1 .. T-1.</param>
/// <param name="RecordEvery">A frame is recorded after the position update of every step s with s % RecordEvery == 0.</param>
/// <param name="Dt">Time step.</param>
/// <param name="ForceClip">Each force component is clipped to [-ForceClip, ForceClip] (0.1 / dt in the reference).</param>
/// <param name="VelocityNorm">Initial speed of every particle (random direction).</param>
/// <param name="PositionStd">Standard deviation of the initial positions (per coordinate).</param>
/// <param name="InteractionStrength">Coulomb constant.</param>
/// <param name="PositiveChargeProbability">Probability that a particle's charge is +1 (else -1).</param>
public sealed record NBodySimulationOptions(
    int Particles = 5,
    int Steps = 5000,
    int RecordEvery = 100,
    double Dt = 0.001,
    double ForceClip = 100.0,
    double VelocityNorm = 0.5,
    double PositionStd = 1.0,
    double InteractionStrength = 1.0,
    double PositiveChargeProbability = 0.5)
{
    /// <summary>Number of recorded frames: floor((Steps - 1) / RecordEvery) (49 by default).</summary>
    public int Frames => (Steps - 1) / RecordEvery;

    /// <summary>Integration step at which frame <paramref name="frame"/> is recorded: RecordEvery · (frame + 1).</summary>
    public int StepOfFrame(int frame) => RecordEvery * (frame + 1);

    /// <summary>Checks the values; the error names the field.</summary>
    public void Validate()
    {
        if (Particles < 1) throw new ArgumentOutOfRangeException(nameof(Particles), Particles, "At least one particle.");
        if (Steps < 2) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "At least 2 steps.");
        if (RecordEvery < 1) throw new ArgumentOutOfRangeException(nameof(RecordEvery), RecordEvery, "Must be positive.");
        if (Frames < 1) throw new ArgumentOutOfRangeException(nameof(RecordEvery), RecordEvery, $"No frame would be recorded with Steps = {Steps}.");
        if (!(Dt > 0) || !double.IsFinite(Dt)) throw new ArgumentOutOfRangeException(nameof(Dt), Dt, "Must be positive and finite.");
        if (!(ForceClip > 0)) throw new ArgumentOutOfRangeException(nameof(ForceClip), ForceClip, "Must be positive (use +infinity for no clipping).");
        if (!(VelocityNorm >= 0) || !double.IsFinite(VelocityNorm)) throw new ArgumentOutOfRangeException(nameof(VelocityNorm), VelocityNorm, "Must be finite and non-negative.");
        if (!(PositionStd > 0) || !double.IsFinite(PositionStd)) throw new ArgumentOutOfRangeException(nameof(PositionStd), PositionStd, "Must be positive and finite.");
        if (!double.IsFinite(InteractionStrength)) throw new ArgumentOutOfRangeException(nameof(InteractionStrength), InteractionStrength, "Must be finite.");
        if (!(PositiveChargeProbability is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(PositiveChargeProbability), PositiveChargeProbability, "Must lie in [0, 1].");
    }
}

/// <summary>
/// Simulated trajectories, as flat row-major float64 buffers: <see cref="Positions"/> and
/// <see cref="Velocities"/> [S, Frames, P, 3], <see cref="Charges"/> [S, P] (values ±1).
/// </summary>
public sealed class NBodyTrajectories
{
    /// <summary>Wraps buffers after checking their lengths against the sizes.</summary>
    /// <exception cref="ArgumentException">A buffer length that does not match S·F·P·3 (or S·P for charges).</exception>
    public NBodyTrajectories(int count, int frames, int particles, double[] positions, double[] velocities, double[] charges)
    {
        if (count < 0 || frames < 1 || particles < 1)
            throw new ArgumentOutOfRangeException(nameof(count), $"Sizes S = {count}, F = {frames}, P = {particles} are invalid.");
        long n = (long)count * frames * particles * 3;
        if (positions.LongLength != n) throw new ArgumentException($"positions has {positions.LongLength} values, expected S·F·P·3 = {n}.", nameof(positions));
        if (velocities.LongLength != n) throw new ArgumentException($"velocities has {velocities.LongLength} values, expected S·F·P·3 = {n}.", nameof(velocities));
        if (charges.LongLength != (long)count * particles) throw new ArgumentException($"charges has {charges.LongLength} values, expected S·P = {(long)count * particles}.", nameof(charges));
        Count = count;
        Frames = frames;
        Particles = particles;
        Positions = positions;
        Velocities = velocities;
        Charges = charges;
    }

    /// <summary>Number of trajectories S.</summary>
    public int Count { get; }

    /// <summary>Recorded frames per trajectory F.</summary>
    public int Frames { get; }

    /// <summary>Particles per system P.</summary>
    public int Particles { get; }

    /// <summary>Positions [S, F, P, 3], row-major.</summary>
    public double[] Positions { get; }

    /// <summary>Velocities [S, F, P, 3], row-major; the velocity of frame k is the one used in the position update of that step.</summary>
    public double[] Velocities { get; }

    /// <summary>Charges [S, P], ±1.</summary>
    public double[] Charges { get; }

    /// <summary>Offset of element [s, f, p, 0] in <see cref="Positions"/>/<see cref="Velocities"/>.</summary>
    public long Offset(int trajectory, int frame, int particle) => (((long)trajectory * Frames + frame) * Particles + particle) * 3;

    /// <summary>The first <paramref name="count"/> trajectories starting at <paramref name="start"/> (copied).</summary>
    public NBodyTrajectories Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice [{start}, {start + count}) is outside [0, {Count}).");
        long block = (long)Frames * Particles * 3;
        return new NBodyTrajectories(count, Frames, Particles,
            Positions.AsSpan((int)(start * block), (int)(count * block)).ToArray(),
            Velocities.AsSpan((int)(start * block), (int)(count * block)).ToArray(),
            Charges.AsSpan(start * Particles, count * Particles).ToArray());
    }
}

/// <summary>
/// Deterministic simulator of the charged N-body system (float64, managed code, parallel over
/// trajectories).
/// </summary>
/// <remarks>
/// <para>Physics: F_i = k SUM_{j≠i} q_i q_j (x_i - x_j) / |x_i - x_j|^3, each component clipped to
/// ±ForceClip; unit masses. Integrator (as the reference): v += dt F(x_0); then for s = 1 .. T-1:
/// x += dt v; if s % R == 0 record (x, v); v += dt F(x). Frame k is the state after step R(k+1).</para>
/// <para>Randomness: trajectory t draws from its own SplitMix64 stream seeded with
/// SplitMix64(seed) mixed with t, in this order: P charges (uniform u &lt; p → +1, else -1), 3P
/// position normals (Box–Muller), 3P velocity-direction normals, each particle's direction scaled
/// to norm VelocityNorm. So results depend only on (seed, t, options): independent of the number of
/// trajectories requested and of the thread count.</para>
/// </remarks>
public static class NBodySimulator
{
    /// <summary>Simulates <paramref name="trajectories"/> independent systems.</summary>
    /// <param name="trajectories">Number of systems S (≥ 0).</param>
    /// <param name="seed">Seed; equal seeds give bit-identical trajectories.</param>
    /// <param name="options">Settings (benchmark defaults when null).</param>
    /// <param name="firstTrajectory">Index of the first trajectory's random stream (to generate disjoint chunks of one dataset).</param>
    /// <param name="maxParallelism">Worker threads (default: processor count).</param>
    public static NBodyTrajectories Simulate(int trajectories, int seed, NBodySimulationOptions? options = null,
        long firstTrajectory = 0, int? maxParallelism = null)
    {
        options ??= new NBodySimulationOptions();
        options.Validate();
        if (trajectories < 0) throw new ArgumentOutOfRangeException(nameof(trajectories), trajectories, "Must be non-negative.");
        int p = options.Particles, frames = options.Frames;
        long block = (long)frames * p * 3;
        if (block * trajectories > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(trajectories), trajectories, "Too many trajectories for one buffer.");
        var positions = new double[block * trajectories];
        var velocities = new double[block * trajectories];
        var charges = new double[(long)p * trajectories];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxParallelism ?? Environment.ProcessorCount };
        Parallel.For(0, trajectories, parallel, () => new double[9 * p], (t, _, scratch) =>
        {
            SimulateOne(options, StreamSeed(seed, firstTrajectory + t),
                positions.AsSpan((int)(t * block), (int)block), velocities.AsSpan((int)(t * block), (int)block),
                charges.AsSpan(t * p, p), scratch);
            return scratch;
        }, _ => { });
        return new NBodyTrajectories(trajectories, frames, p, positions, velocities, charges);
    }

    /// <summary>
    /// Coulomb forces with per-component clipping: force[i] = clip(k SUM_{j≠i} q_i q_j (x_i - x_j) / |x_i - x_j|^3).
    /// Positions, charges and the output are flat [P·3] / [P] / [P·3].
    /// </summary>
    public static void Forces(ReadOnlySpan<double> x, ReadOnlySpan<double> q, Span<double> force, double strength = 1.0, double clip = 100.0)
    {
        int p = q.Length;
        if (x.Length != 3 * p || force.Length != 3 * p)
            throw new ArgumentException($"Forces: positions ({x.Length}) and forces ({force.Length}) must have 3·P = {3 * p} values.");
        force.Clear();
        for (int i = 0; i < p; i++)
        {
            double xi = x[3 * i], yi = x[3 * i + 1], zi = x[3 * i + 2];
            for (int j = i + 1; j < p; j++)
            {
                double dx = xi - x[3 * j], dy = yi - x[3 * j + 1], dz = zi - x[3 * j + 2];
                double r2 = dx * dx + dy * dy + dz * dz;
                double s = strength * q[i] * q[j] / (r2 * Math.Sqrt(r2));
                force[3 * i] += s * dx; force[3 * i + 1] += s * dy; force[3 * i + 2] += s * dz;
                force[3 * j] -= s * dx; force[3 * j + 1] -= s * dy; force[3 * j + 2] -= s * dz;
            }
        }
        for (int k = 0; k < force.Length; k++)
            force[k] = Math.Clamp(force[k], -clip, clip);
    }

    private static void SimulateOne(NBodySimulationOptions o, ulong streamSeed, Span<double> outX, Span<double> outV, Span<double> q, double[] scratch)
    {
        int p = o.Particles, n = 3 * p;
        var x = scratch.AsSpan(0, n);
        var v = scratch.AsSpan(n, n);
        var f = scratch.AsSpan(2 * n, n);
        var rng = new SplitMix64(streamSeed);
        for (int i = 0; i < p; i++) q[i] = rng.NextDouble() < o.PositiveChargeProbability ? 1.0 : -1.0;
        for (int k = 0; k < n; k++) x[k] = o.PositionStd * rng.NextGaussian();
        for (int i = 0; i < p; i++)
        {
            double a, b, c, norm;
            do
            {
                a = rng.NextGaussian(); b = rng.NextGaussian(); c = rng.NextGaussian();
                norm = Math.Sqrt(a * a + b * b + c * c);
            } while (norm < 1e-12);
            double scale = o.VelocityNorm / norm;
            v[3 * i] = a * scale; v[3 * i + 1] = b * scale; v[3 * i + 2] = c * scale;
        }
        Integrate(o, x, v, q, f, outX, outV);
    }

    /// <summary>
    /// Runs the integrator from given initial positions and velocities (flat [P·3]), writing the
    /// frames into <paramref name="outX"/>/<paramref name="outV"/> ([Frames·P·3]). <paramref name="x"/>
    /// and <paramref name="v"/> are overwritten with the final state.
    /// </summary>
    public static void Integrate(NBodySimulationOptions o, Span<double> x, Span<double> v, ReadOnlySpan<double> q,
        Span<double> forceScratch, Span<double> outX, Span<double> outV) =>
        Integrate(o, x, v, q, forceScratch, outX, outV, (xs, qs, f) => Forces(xs, qs, f, o.InteractionStrength, o.ForceClip));

    /// <summary>Forces on all particles (flat [P·3]) from positions and charges.</summary>
    internal delegate void ForceFunction(ReadOnlySpan<double> x, ReadOnlySpan<double> q, Span<double> force);

    /// <summary>The integrator with a given force function (the reference arithmetic of <see cref="NBodyNumPyReference"/> uses its own).</summary>
    internal static void Integrate(NBodySimulationOptions o, Span<double> x, Span<double> v, ReadOnlySpan<double> q,
        Span<double> forceScratch, Span<double> outX, Span<double> outV, ForceFunction forces)
    {
        int n = 3 * o.Particles;
        if (x.Length != n || v.Length != n || q.Length != o.Particles || forceScratch.Length != n)
            throw new ArgumentException($"Integrate: expected {n} position/velocity/force values and {o.Particles} charges.");
        if (outX.Length != o.Frames * n || outV.Length != o.Frames * n)
            throw new ArgumentException($"Integrate: frame buffers need Frames·P·3 = {o.Frames * n} values.");
        double dt = o.Dt;
        forces(x, q, forceScratch);
        for (int k = 0; k < n; k++) v[k] += dt * forceScratch[k];
        int frame = 0;
        for (int s = 1; s < o.Steps; s++)
        {
            for (int k = 0; k < n; k++) x[k] += dt * v[k];
            if (s % o.RecordEvery == 0)
            {
                x.CopyTo(outX.Slice(frame * n, n));
                v.CopyTo(outV.Slice(frame * n, n));
                frame++;
            }
            forces(x, q, forceScratch);
            for (int k = 0; k < n; k++) v[k] += dt * forceScratch[k];
        }
    }

    /// <summary>Seed of trajectory t's random stream: a SplitMix64 finalisation of (seed, t).</summary>
    internal static ulong StreamSeed(int seed, long trajectory) =>
        SplitMix64.Mix(SplitMix64.Mix((ulong)(uint)seed + 0x9E3779B97F4A7C15UL) ^ (ulong)trajectory);

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, well mixed; doubles from the top 53 bits.</summary>
    internal struct SplitMix64(ulong state)
    {
        private ulong state = state;
        private double spare;
        private bool hasSpare;

        public static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public ulong NextUInt64() => Mix(state += 0x9E3779B97F4A7C15UL);

        /// <summary>Uniform in [0, 1).</summary>
        public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

        /// <summary>Standard normal (Box–Muller, both values used).</summary>
        public double NextGaussian()
        {
            if (hasSpare) { hasSpare = false; return spare; }
            double u1 = 1.0 - NextDouble(); // (0, 1]
            double u2 = NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            spare = r * Math.Sin(2 * Math.PI * u2);
            hasSpare = true;
            return r * Math.Cos(2 * Math.PI * u2);
        }
    }
}
