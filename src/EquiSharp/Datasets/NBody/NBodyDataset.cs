using EquiSharp.Graphs;
using EquiSharp.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Datasets.NBody;

/// <summary>The three splits of an N-body dataset.</summary>
public enum NBodySplit
{
    /// <summary>Training trajectories.</summary>
    Train,
    /// <summary>Validation trajectories.</summary>
    Valid,
    /// <summary>Test trajectories.</summary>
    Test,
}

/// <summary>Trajectories per split (benchmark: 3000 / 2000 / 2000).</summary>
public sealed record NBodySplitSizes(int Train = 3000, int Valid = 2000, int Test = 2000)
{
    /// <summary>The size of one split.</summary>
    public int this[NBodySplit split] => split switch
    {
        NBodySplit.Train => Train,
        NBodySplit.Valid => Valid,
        NBodySplit.Test => Test,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };
}

/// <summary>Trivial predictors of the target frame, for sanity checks.</summary>
public enum NBodyBaseline
{
    /// <summary>x_target = x_input.</summary>
    NoMotion,
    /// <summary>x_target = x_input + v_input · (target − input frames) · RecordEvery · dt (= x + v for frames 30 → 40).</summary>
    ConstantVelocity,
}

/// <summary>
/// The charged-particle N-body dataset: simulated train/valid/test trajectories, saved as one .npz
/// file (format in docs/nbody.md), and converted into <see cref="GeometricGraph"/>s for the
/// "positions at frame 30 → positions at frame 40" task.
/// </summary>
public sealed class NBodyDataset
{
    /// <summary>Version number written into saved files (key <c>format_version</c>).</summary>
    public const long FormatVersion = 1;

    /// <summary>Offset between the random streams of the splits: trajectory t of split k uses stream k·2^40 + t.</summary>
    public const long SplitStreamOffset = 1L << 40;

    /// <summary>Creates a dataset from trajectories (all splits must share frames and particle count).</summary>
    /// <param name="train">Training trajectories.</param>
    /// <param name="valid">Validation trajectories.</param>
    /// <param name="test">Test trajectories.</param>
    /// <param name="options">Simulation settings.</param>
    /// <param name="seed">The seed they were simulated from.</param>
    /// <param name="stream">The random stream they were simulated from.</param>
    public NBodyDataset(NBodyTrajectories train, NBodyTrajectories valid, NBodyTrajectories test, NBodySimulationOptions options, long seed,
        NBodyRandomStream stream = NBodyRandomStream.SplitMix64)
    {
        Train = train ?? throw new ArgumentNullException(nameof(train));
        Valid = valid ?? throw new ArgumentNullException(nameof(valid));
        Test = test ?? throw new ArgumentNullException(nameof(test));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        foreach (var (name, t) in new[] { ("train", train), ("valid", valid), ("test", test) })
            if (t.Frames != options.Frames || t.Particles != options.Particles)
                throw new ArgumentException($"NBodyDataset: split '{name}' has {t.Frames} frames of {t.Particles} particles; the options give {options.Frames} frames of {options.Particles}.");
        Seed = seed;
        RandomStream = Enum.IsDefined(stream) ? stream : throw new ArgumentOutOfRangeException(nameof(stream), stream, "Unknown random stream.");
    }

    /// <summary>Training trajectories.</summary>
    public NBodyTrajectories Train { get; }

    /// <summary>Validation trajectories.</summary>
    public NBodyTrajectories Valid { get; }

    /// <summary>Test trajectories.</summary>
    public NBodyTrajectories Test { get; }

    /// <summary>Simulation settings.</summary>
    public NBodySimulationOptions Options { get; }

    /// <summary>The seed the dataset was generated from.</summary>
    public long Seed { get; }

    /// <summary>The random stream the dataset was generated from.</summary>
    public NBodyRandomStream RandomStream { get; }

    /// <summary>The trajectories of a split.</summary>
    public NBodyTrajectories this[NBodySplit split] => split switch
    {
        NBodySplit.Train => Train,
        NBodySplit.Valid => Valid,
        NBodySplit.Test => Test,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };

    /// <summary>
    /// Simulates a dataset. Split k uses the random streams k·2^40 + t (t = 0, 1, ...), so a
    /// smaller dataset from the same seed is a prefix of a larger one, split by split.
    /// </summary>
    /// <param name="seed">Seed.</param>
    /// <param name="sizes">Trajectories per split (default 3000/2000/2000).</param>
    /// <param name="options">Simulation settings (benchmark defaults when null).</param>
    /// <param name="maxParallelism">Worker threads for the simulation.</param>
    /// <param name="stream">Random stream: EquiSharp's own (default), or the EGNN reference generator's NumPy
    /// stream (<see cref="NBodyNumPyReference"/>; seed 43 with the default sizes gives the reference's data set).</param>
    public static NBodyDataset Generate(int seed, NBodySplitSizes? sizes = null, NBodySimulationOptions? options = null, int? maxParallelism = null,
        NBodyRandomStream stream = NBodyRandomStream.SplitMix64)
    {
        sizes ??= new NBodySplitSizes();
        options ??= new NBodySimulationOptions();
        if (stream == NBodyRandomStream.NumPyReference)
        {
            if (seed < 0) throw new ArgumentOutOfRangeException(nameof(seed), seed, "NumPy seeds are non-negative.");
            var reference = NBodyNumPyReference.Simulate((uint)seed, sizes, options: options, maxParallelism: maxParallelism);
            return new NBodyDataset(reference[0], reference[1], reference[2], options, seed, stream);
        }
        var parts = new NBodyTrajectories[3];
        foreach (var split in Enum.GetValues<NBodySplit>())
        {
            if (sizes[split] < 0) throw new ArgumentOutOfRangeException(nameof(sizes), sizes[split], $"The {split} size must be non-negative.");
            parts[(int)split] = NBodySimulator.Simulate(sizes[split], seed, options, (int)split * SplitStreamOffset, maxParallelism);
        }
        return new NBodyDataset(parts[0], parts[1], parts[2], options, seed);
    }

    /// <summary>Writes the dataset as an uncompressed .npz file, atomically (see docs/nbody.md for the keys).</summary>
    public void Save(string path)
    {
        var arrays = new List<KeyValuePair<string, NpyArray>>
        {
            new("format_version", NpyArray.Scalar(FormatVersion)),
            new("seed", NpyArray.Scalar(Seed)),
            new("random_stream", NpyArray.Scalar((long)RandomStream)),
            new("particles", NpyArray.Scalar((long)Options.Particles)),
            new("steps", NpyArray.Scalar((long)Options.Steps)),
            new("record_every", NpyArray.Scalar((long)Options.RecordEvery)),
            new("dt", NpyArray.Scalar(Options.Dt)),
            new("force_clip", NpyArray.Scalar(Options.ForceClip)),
            new("velocity_norm", NpyArray.Scalar(Options.VelocityNorm)),
            new("position_std", NpyArray.Scalar(Options.PositionStd)),
            new("interaction_strength", NpyArray.Scalar(Options.InteractionStrength)),
            new("positive_charge_probability", NpyArray.Scalar(Options.PositiveChargeProbability)),
        };
        foreach (var split in Enum.GetValues<NBodySplit>())
        {
            var t = this[split];
            string name = SplitKey(split);
            arrays.Add(new($"{name}_positions", NpyArray.Of(t.Positions, t.Count, t.Frames, t.Particles, 3)));
            arrays.Add(new($"{name}_velocities", NpyArray.Of(t.Velocities, t.Count, t.Frames, t.Particles, 3)));
            arrays.Add(new($"{name}_charges", NpyArray.Of(t.Charges, t.Count, t.Particles)));
        }
        Npz.Save(path, arrays);
    }

    /// <summary>Reads a dataset written by <see cref="Save"/> (or by Python with the same keys), validating dtypes, shapes and values.</summary>
    /// <exception cref="NpyFormatException">Naming the file and the key that is missing, mistyped, mis-shaped or holds invalid values.</exception>
    public static NBodyDataset Load(string path)
    {
        var npz = Npz.Load(path);
        long version = ScalarLong(npz, "format_version");
        if (version != FormatVersion)
            throw new NpyFormatException($"{path}: key 'format_version' is {version}; this version of EquiSharp reads version {FormatVersion}.");
        NBodySimulationOptions options;
        try
        {
            options = new NBodySimulationOptions(
                Particles: checked((int)ScalarLong(npz, "particles")),
                Steps: checked((int)ScalarLong(npz, "steps")),
                RecordEvery: checked((int)ScalarLong(npz, "record_every")),
                Dt: ScalarDouble(npz, "dt"),
                ForceClip: ScalarDouble(npz, "force_clip"),
                VelocityNorm: ScalarDouble(npz, "velocity_norm"),
                PositionStd: ScalarDouble(npz, "position_std"),
                InteractionStrength: ScalarDouble(npz, "interaction_strength"),
                PositiveChargeProbability: ScalarDouble(npz, "positive_charge_probability"));
            options.Validate();
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new NpyFormatException($"{path}: invalid simulation settings: {e.Message}", e);
        }
        var parts = new NBodyTrajectories[3];
        foreach (var split in Enum.GetValues<NBodySplit>())
        {
            string name = SplitKey(split);
            var pos = npz.Get($"{name}_positions", NpyDType.Float64, -1, options.Frames, options.Particles, 3);
            long s = pos.Shape[0];
            var vel = npz.Get($"{name}_velocities", NpyDType.Float64, s, options.Frames, options.Particles, 3);
            var q = npz.Get($"{name}_charges", NpyDType.Float64, s, options.Particles);
            var qs = q.As<double>();
            for (int k = 0; k < qs.Length; k++)
                if (qs[k] != 1.0 && qs[k] != -1.0)
                    throw new NpyFormatException($"{path}: key '{name}_charges' element {k} (trajectory {k / options.Particles}, particle {k % options.Particles}) is {qs[k]}; charges must be +1 or -1.");
            CheckFinite(path, $"{name}_positions", pos.As<double>());
            CheckFinite(path, $"{name}_velocities", vel.As<double>());
            parts[(int)split] = new NBodyTrajectories(checked((int)s), options.Frames, options.Particles, pos.As<double>(), vel.As<double>(), qs);
        }
        var stream = NBodyRandomStream.SplitMix64;
        if (npz.ContainsKey("random_stream"))
        {
            long code = ScalarLong(npz, "random_stream");
            if (!Enum.IsDefined((NBodyRandomStream)code))
                throw new NpyFormatException($"{path}: key 'random_stream' is {code}; known streams are 0 (SplitMix64) and 1 (NumPy reference).");
            stream = (NBodyRandomStream)code;
        }
        return new NBodyDataset(parts[0], parts[1], parts[2], options, ScalarLong(npz, "seed"), stream);
    }

    /// <summary>
    /// One graph per trajectory of <paramref name="split"/> for predicting positions at
    /// <paramref name="targetFrame"/> from the state at <paramref name="inputFrame"/>:
    /// Positions x_in [P, 3], NodeVectors v_in [P, 1, 3], NodeFeatures charges [P, 1], EdgeIndex
    /// fully connected without self-loops [2, P(P−1)] (row 0 source j, row 1 target i, ordered by
    /// target), EdgeAttributes q_i q_j [E, 1], NodeTarget x_target [P, 3]. All graphs share one
    /// EdgeIndex tensor.
    /// </summary>
    /// <param name="split">Which split.</param>
    /// <param name="inputFrame">Input frame (default 30).</param>
    /// <param name="targetFrame">Target frame (default 40).</param>
    /// <param name="dtype">Floating dtype of the tensors (float32 by default; float64 for exactness tests).</param>
    public List<GeometricGraph> ToGraphs(NBodySplit split, int inputFrame = 30, int targetFrame = 40, ScalarType dtype = ScalarType.Float32)
    {
        CheckFrames(inputFrame, targetFrame, dtype);
        var t = this[split];
        int p = t.Particles;
        var edgeIndex = FullyConnectedEdgeIndex(p);
        var (src, dst) = FullyConnectedPairs(p);
        var graphs = new List<GeometricGraph>(t.Count);
        var x = new double[3 * p];
        var v = new double[3 * p];
        var y = new double[3 * p];
        var qq = new double[src.Length];
        for (int s = 0; s < t.Count; s++)
        {
            Array.Copy(t.Positions, t.Offset(s, inputFrame, 0), x, 0, 3 * p);
            Array.Copy(t.Velocities, t.Offset(s, inputFrame, 0), v, 0, 3 * p);
            Array.Copy(t.Positions, t.Offset(s, targetFrame, 0), y, 0, 3 * p);
            var q = t.Charges.AsSpan(s * p, p).ToArray();
            for (int e = 0; e < src.Length; e++) qq[e] = q[dst[e]] * q[src[e]];
            graphs.Add(new GeometricGraph
            {
                Positions = torch.tensor(x, new long[] { p, 3 }, dtype),
                NodeVectors = torch.tensor(v, new long[] { p, 1, 3 }, dtype),
                NodeFeatures = torch.tensor(q, new long[] { p, 1 }, dtype),
                EdgeIndex = edgeIndex,
                EdgeAttributes = torch.tensor(qq, new long[] { src.Length, 1 }, dtype),
                NodeTarget = torch.tensor(y, new long[] { p, 3 }, dtype),
            });
        }
        return graphs;
    }

    /// <summary>
    /// Builds the <see cref="GraphBatch"/> of the given trajectories directly from the arrays (the
    /// same content and order as <see cref="GraphBatch.FromGraphs"/> over <see cref="ToGraphs"/>,
    /// in a handful of tensor creations instead of hundreds of small ones).
    /// </summary>
    /// <param name="split">Which split.</param>
    /// <param name="trajectories">Trajectory indices within the split, in batch order (at least one).</param>
    /// <param name="inputFrame">Input frame (default 30).</param>
    /// <param name="targetFrame">Target frame (default 40).</param>
    /// <param name="dtype">Floating dtype.</param>
    /// <param name="device">Device (CPU by default).</param>
    public GraphBatch CreateBatch(NBodySplit split, IReadOnlyList<int> trajectories, int inputFrame = 30, int targetFrame = 40,
        ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(trajectories);
        CheckFrames(inputFrame, targetFrame, dtype);
        var t = this[split];
        int g = trajectories.Count, p = t.Particles;
        if (g == 0) throw new ArgumentException("CreateBatch: at least one trajectory is needed.", nameof(trajectories));
        var (src, dst) = FullyConnectedPairs(p);
        int e1 = src.Length;
        var x = new double[g * p * 3];
        var v = new double[g * p * 3];
        var y = new double[g * p * 3];
        var q = new double[g * p];
        var qq = new double[g * e1];
        var ei = new long[2 * g * e1];
        var batch = new long[g * p];
        var ptr = new long[g + 1];
        var eptr = new long[g + 1];
        for (int k = 0; k < g; k++)
        {
            int s = trajectories[k];
            if (s < 0 || s >= t.Count)
                throw new ArgumentOutOfRangeException(nameof(trajectories), s, $"CreateBatch: trajectory index {s} (position {k}) is outside [0, {t.Count}) for split {split}.");
            Array.Copy(t.Positions, t.Offset(s, inputFrame, 0), x, k * p * 3, p * 3);
            Array.Copy(t.Velocities, t.Offset(s, inputFrame, 0), v, k * p * 3, p * 3);
            Array.Copy(t.Positions, t.Offset(s, targetFrame, 0), y, k * p * 3, p * 3);
            Array.Copy(t.Charges, s * p, q, k * p, p);
            for (int e = 0; e < e1; e++)
            {
                qq[k * e1 + e] = t.Charges[s * p + dst[e]] * t.Charges[s * p + src[e]];
                ei[k * e1 + e] = k * p + src[e];
                ei[g * e1 + k * e1 + e] = k * p + dst[e];
            }
            for (int i = 0; i < p; i++) batch[k * p + i] = k;
            ptr[k + 1] = ptr[k] + p;
            eptr[k + 1] = eptr[k] + e1;
        }
        device ??= torch.CPU;
        var nodeCounts = Enumerable.Repeat((long)p, g).ToArray();
        var edgeCounts = Enumerable.Repeat((long)e1, g).ToArray();
        return new GraphBatch
        {
            Positions = torch.tensor(x, new long[] { g * p, 3 }, dtype, device),
            NodeVectors = torch.tensor(v, new long[] { g * p, 1, 3 }, dtype, device),
            NodeFeatures = torch.tensor(q, new long[] { g * p, 1 }, dtype, device),
            EdgeIndex = torch.tensor(ei, new long[] { 2, g * e1 }, device: device),
            EdgeAttributes = torch.tensor(qq, new long[] { g * e1, 1 }, dtype, device),
            NodeTarget = torch.tensor(y, new long[] { g * p, 3 }, dtype, device),
            Batch = torch.tensor(batch, device: device),
            Ptr = torch.tensor(ptr, device: device),
            EdgePtr = torch.tensor(eptr, device: device),
            NodeCounts = nodeCounts,
            EdgeCounts = edgeCounts,
        };
    }

    /// <summary>
    /// Mean squared error over all coordinates of a trivial predictor on a split (the sanity figures
    /// of the benchmark: about 0.26–0.28 for no motion, 0.11–0.13 for constant velocity on frames 30 → 40).
    /// </summary>
    public double BaselineMse(NBodySplit split, NBodyBaseline baseline, int inputFrame = 30, int targetFrame = 40)
    {
        CheckFrames(inputFrame, targetFrame, ScalarType.Float64);
        var t = this[split];
        if (t.Count == 0) throw new InvalidOperationException($"BaselineMse: split {split} is empty.");
        double horizon = baseline == NBodyBaseline.ConstantVelocity ? (targetFrame - inputFrame) * Options.RecordEvery * Options.Dt : 0.0;
        double sum = 0;
        int n = t.Particles * 3;
        for (int s = 0; s < t.Count; s++)
        {
            long a = t.Offset(s, inputFrame, 0), b = t.Offset(s, targetFrame, 0);
            for (int k = 0; k < n; k++)
            {
                double d = t.Positions[a + k] + horizon * t.Velocities[a + k] - t.Positions[b + k];
                sum += d * d;
            }
        }
        return sum / ((double)t.Count * n);
    }

    /// <summary>Edge index [2, P(P−1)] of a fully connected graph without self-loops: for each target i (in order) every source j ≠ i.</summary>
    public static Tensor FullyConnectedEdgeIndex(int particles)
    {
        var (src, dst) = FullyConnectedPairs(particles);
        var data = new long[2 * src.Length];
        for (int e = 0; e < src.Length; e++) { data[e] = src[e]; data[src.Length + e] = dst[e]; }
        return torch.tensor(data, new long[] { 2, src.Length });
    }

    private static (int[] Src, int[] Dst) FullyConnectedPairs(int p)
    {
        var src = new int[p * (p - 1)];
        var dst = new int[p * (p - 1)];
        int e = 0;
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++)
                if (i != j) { src[e] = j; dst[e] = i; e++; }
        return (src, dst);
    }

    private void CheckFrames(int inputFrame, int targetFrame, ScalarType dtype)
    {
        int f = Options.Frames;
        if (inputFrame < 0 || inputFrame >= f) throw new ArgumentOutOfRangeException(nameof(inputFrame), inputFrame, $"The dataset has frames 0 .. {f - 1}.");
        if (targetFrame < 0 || targetFrame >= f) throw new ArgumentOutOfRangeException(nameof(targetFrame), targetFrame, $"The dataset has frames 0 .. {f - 1}.");
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype must be floating point, got {dtype}.", nameof(dtype));
    }

    private static string SplitKey(NBodySplit split) => split switch
    {
        NBodySplit.Train => "train",
        NBodySplit.Valid => "valid",
        NBodySplit.Test => "test",
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    private static long ScalarLong(NpzArchive npz, string key)
    {
        var a = npz.Get(key);
        if (a.Length != 1 || a.Shape.Length != 0 || a.DType is not (NpyDType.Int64 or NpyDType.Int32))
            throw new NpyFormatException($"{npz.Source}: key '{key}' must be an integer scalar (shape ()), got dtype '{NpyArray.Descr(a.DType)}' shape {a.ShapeString}.");
        return a.ToInt64Array()[0];
    }

    private static double ScalarDouble(NpzArchive npz, string key)
    {
        var a = npz.Get(key);
        if (a.Length != 1 || a.Shape.Length != 0 || a.DType is not (NpyDType.Float64 or NpyDType.Float32))
            throw new NpyFormatException($"{npz.Source}: key '{key}' must be a floating scalar (shape ()), got dtype '{NpyArray.Descr(a.DType)}' shape {a.ShapeString}.");
        return a.ToDoubleArray()[0];
    }

    private static void CheckFinite(string path, string key, double[] data)
    {
        for (int k = 0; k < data.Length; k++)
            if (!double.IsFinite(data[k]))
                throw new NpyFormatException($"{path}: key '{key}' element {k} is {data[k]}; values must be finite.");
    }
}
