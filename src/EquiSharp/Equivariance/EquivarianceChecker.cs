using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Equivariance;

/// <summary>
/// Tests a model (or a plain function) for E(d) equivariance, permutation equivariance and batching
/// invariance: it runs the model on transformed inputs and compares with the transformed outputs of
/// the original input, g·f(x) against f(g·x), for several random g.
/// </summary>
/// <remarks>
/// <para>Checks (each with <see cref="EquivarianceOptions.Samples"/> random samples, seeded):
/// <b>rotation</b> (Haar SO(d)), <b>reflection</b> (Haar det −1 part of O(d)), <b>translation</b>
/// (Gaussian t), <b>permutation</b> (random relabelling of the nodes within each graph and reordering
/// of the edges), <b>combined</b> (all of them at once) and <b>batching</b> (a graph alone vs the same
/// graph at a random position in a batch with random companion graphs).</para>
/// <para>Models take a <see cref="GraphBatch"/> (a single graph is a batch of one:
/// <c>GraphBatch.FromGraphs(new[] { graph })</c>) and return one tensor or named tensors, each declared
/// with a <see cref="FieldSpec"/>. Use float64 models and inputs: the default tolerance is 1e-9
/// relative. The model is called without changing grad mode; wrap it in <c>torch.no_grad()</c> yourself if wanted.</para>
/// <para>Every tensor created during a check (including the model's) is disposed when the check
/// returns; tensors a model caches on its first call must be detached from dispose scopes.</para>
/// </remarks>
public static class EquivarianceChecker
{
    private const string SingleOutput = "output";

    // ------------------------------------------------------------------ graph models

    /// <summary>Runs all enabled checks on a model with one output tensor.</summary>
    /// <param name="model">The model: batch → output.</param>
    /// <param name="input">A representative input batch (float64 recommended).</param>
    /// <param name="output">How the output transforms and what its first dimension indexes.</param>
    /// <param name="options">Checks, samples, seed, tolerances, input field types; null for defaults.</param>
    public static EquivarianceReport Check(Func<GraphBatch, Tensor> model, GraphBatch input, FieldSpec output, EquivarianceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(output);
        return Check(b => new Dictionary<string, Tensor> { [output.Name] = model(b) }, input, new[] { output }, options);
    }

    /// <summary>Runs all enabled checks on a model with named outputs (every declared output must be in the returned dictionary).</summary>
    public static EquivarianceReport Check(Func<GraphBatch, IReadOnlyDictionary<string, Tensor>> model, GraphBatch input,
        IReadOnlyList<FieldSpec> outputs, EquivarianceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        CheckSpecs(outputs);
        options ??= new EquivarianceOptions();
        options.Validate();
        input.Validate("input");

        var types = options.Inputs;
        int dim = (int)input.Positions.shape[1];
        using (var check = torch.NewDisposeScope())
            types.Apply(input, EuclideanTransform.Identity(dim, device: input.Positions.device)); // input type errors before any model call
        bool translated = new[] { types.Positions, types.NodeVectors, types.NodeFeatures, types.NodeAttributes, types.EdgeAttributes, types.NodeTarget, types.GraphTarget }
            .Any(t => t.IsTranslated);
        var problem = new Problem
        {
            Dim = dim,
            Device = input.Positions.device,
            TranslationScale = options.TranslationScale ?? RmsRadius(input.Positions),
            HasTranslatedInput = translated,
            CanPermute = true,
            Sizes = new Dictionary<FieldLevel, long>
            {
                [FieldLevel.Node] = input.NumNodes, [FieldLevel.Edge] = input.NumEdges, [FieldLevel.Graph] = input.NumGraphs,
            },
            Evaluate = (g, p) =>
            {
                if (g is null && p is null) return model(input);
                var transformed = types.Apply(input, g, p);
                if (options.RecomputeInputs is not null) transformed = options.RecomputeInputs(transformed);
                return model(transformed);
            },
            RandomPermutation = gen => GraphPermutation.RandomWithinGraphs(input, gen, options.PermuteEdges),
        };
        var title = $"Equivariance check of {options.Name}";
        return Run(problem, outputs, options, title, (gen, reference, cases) => BatchingCases(model, input, outputs, options, gen, cases));
    }

    /// <summary>Runs all enabled checks and throws <see cref="EquivarianceException"/> (with the report) if any case fails.</summary>
    public static EquivarianceReport Assert(Func<GraphBatch, Tensor> model, GraphBatch input, FieldSpec output, EquivarianceOptions? options = null) =>
        ThrowIfFailed(Check(model, input, output, options));

    /// <summary>Runs all enabled checks on a model with named outputs and throws <see cref="EquivarianceException"/> if any case fails.</summary>
    public static EquivarianceReport Assert(Func<GraphBatch, IReadOnlyDictionary<string, Tensor>> model, GraphBatch input,
        IReadOnlyList<FieldSpec> outputs, EquivarianceOptions? options = null) =>
        ThrowIfFailed(Check(model, input, outputs, options));

    /// <summary>
    /// Only the permutation check, for any graph model (geometric or not): node-level outputs must
    /// permute with the nodes, edge-level outputs with the edges, graph-level outputs stay.
    /// </summary>
    public static EquivarianceReport CheckPermutation(Func<GraphBatch, IReadOnlyDictionary<string, Tensor>> model, GraphBatch input,
        IReadOnlyList<FieldSpec> outputs, EquivarianceOptions? options = null) =>
        Check(model, input, outputs, (options ?? new EquivarianceOptions()).PermutationOnly());

    /// <summary>Only the permutation check, for a model with one output.</summary>
    public static EquivarianceReport CheckPermutation(Func<GraphBatch, Tensor> model, GraphBatch input, FieldSpec output, EquivarianceOptions? options = null) =>
        Check(model, input, output, (options ?? new EquivarianceOptions()).PermutationOnly());

    /// <summary>Only the batching-invariance check (a graph alone vs inside a batch of random graphs).</summary>
    public static EquivarianceReport CheckBatching(Func<GraphBatch, IReadOnlyDictionary<string, Tensor>> model, GraphBatch input,
        IReadOnlyList<FieldSpec> outputs, EquivarianceOptions? options = null) =>
        Check(model, input, outputs, (options ?? new EquivarianceOptions()).BatchingOnly());

    /// <summary>Only the batching-invariance check, for a model with one output.</summary>
    public static EquivarianceReport CheckBatching(Func<GraphBatch, Tensor> model, GraphBatch input, FieldSpec output, EquivarianceOptions? options = null) =>
        Check(model, input, output, (options ?? new EquivarianceOptions()).BatchingOnly());

    // ------------------------------------------------------------------ plain functions

    /// <summary>
    /// Checks a plain function of one tensor, e.g. a layer acting on positions [P, d] or relative
    /// vectors [E, d]. The input transforms as <paramref name="inputType"/> (translation is checked only
    /// for translated types such as <see cref="FieldType.Position"/>); for the permutation check its rows
    /// (first dimension) are permuted, and <see cref="FieldLevel.Node"/> outputs must permute with them,
    /// <see cref="FieldLevel.Graph"/> outputs must not change. Batching is not checked.
    /// </summary>
    /// <param name="function">The function under test.</param>
    /// <param name="input">A representative input [P, ..., d] (for vector-like types the last dimension is d).</param>
    /// <param name="inputType">How the input transforms.</param>
    /// <param name="output">How the output transforms; Level Node (rows follow the input rows) or Graph (not indexed by rows).</param>
    /// <param name="options">Options; <see cref="EquivarianceOptions.Batching"/> is ignored.</param>
    /// <param name="spatialDim">d; default: the last dimension of <paramref name="input"/> (set it for representation-typed inputs).</param>
    public static EquivarianceReport CheckFunction(Func<Tensor, Tensor> function, Tensor input, FieldType inputType, FieldSpec output,
        EquivarianceOptions? options = null, int? spatialDim = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(output);
        return CheckFunction(x => new Dictionary<string, Tensor> { [output.Name] = function(x) }, input, inputType, new[] { output }, options, spatialDim);
    }

    /// <summary>Checks a plain function of one tensor with named outputs; see the single-output overload.</summary>
    public static EquivarianceReport CheckFunction(Func<Tensor, IReadOnlyDictionary<string, Tensor>> function, Tensor input, FieldType inputType,
        IReadOnlyList<FieldSpec> outputs, EquivarianceOptions? options = null, int? spatialDim = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(inputType);
        var spec = new FieldSpec("input", inputType, input.dim() >= 2 ? FieldLevel.Node : FieldLevel.Graph);
        return CheckFunction(xs => function(xs["input"]), new Dictionary<string, Tensor> { ["input"] = input }, new[] { spec }, outputs, options, spatialDim);
    }

    /// <summary>
    /// Checks a plain function of several named tensors (e.g. a layer f(h, x) → (h', x')). Each input is
    /// declared with a <see cref="FieldSpec"/>: its type says how it transforms, its level whether its rows
    /// are points (<see cref="FieldLevel.Node"/>: all node-level inputs share the first dimension P and are
    /// permuted together) or not (<see cref="FieldLevel.Graph"/>: never permuted). Outputs likewise.
    /// </summary>
    /// <param name="function">The function: named inputs → named outputs.</param>
    /// <param name="inputs">Representative input values by name.</param>
    /// <param name="inputSpecs">One spec per input (edge level is not allowed for plain functions).</param>
    /// <param name="outputs">One spec per checked output.</param>
    /// <param name="options">Options; batching is not checked.</param>
    /// <param name="spatialDim">d; default: the last dimension of the first vector, position or pseudovector input.</param>
    public static EquivarianceReport CheckFunction(Func<IReadOnlyDictionary<string, Tensor>, IReadOnlyDictionary<string, Tensor>> function,
        IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyList<FieldSpec> inputSpecs, IReadOnlyList<FieldSpec> outputs,
        EquivarianceOptions? options = null, int? spatialDim = null)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputs);
        CheckSpecs(inputSpecs, nameof(inputSpecs));
        CheckSpecs(outputs);
        foreach (var o in outputs.Concat(inputSpecs))
            if (o.Level == FieldLevel.Edge)
                throw new ArgumentException($"'{o.Name}': plain functions have node-level (rows are points) or graph-level (global) fields, not edge-level ones.", nameof(outputs));
        options ??= new EquivarianceOptions();
        options.Validate();

        long rows = -1;
        FieldSpec? rowSource = null;
        foreach (var spec in inputSpecs)
        {
            if (!inputs.TryGetValue(spec.Name, out var value) || value is null)
                throw new ArgumentException($"No input value named '{spec.Name}'; inputs are [{string.Join(", ", inputs.Keys)}].", nameof(inputs));
            if (!value.is_floating_point() && !spec.Type.Equals(FieldType.Invariant))
                throw new ArgumentException($"Input '{spec.Name}' must be floating point to transform as '{spec.Type.Name}', got {value.dtype}.", nameof(inputs));
            if (spec.Level != FieldLevel.Node) continue;
            if (value.dim() == 0)
                throw new ArgumentException($"Input '{spec.Name}' is node-level but a scalar; node-level inputs are [P, ...].", nameof(inputs));
            if (rows >= 0 && value.shape[0] != rows)
                throw new ArgumentException($"Node-level inputs must share the first dimension P: '{rowSource!.Name}' has {rows}, '{spec.Name}' has shape {GraphValidation.Shape(value)}.", nameof(inputs));
            rows = value.shape[0];
            rowSource = spec;
        }
        int dim = spatialDim ?? inputSpecs
            .Where(s => s.Type == FieldType.Vector || s.Type == FieldType.Position || s.Type == FieldType.Pseudovector)
            .Select(s => inputs[s.Name]).Where(v => v.dim() >= 1).Select(v => (int)v.shape[^1]).DefaultIfEmpty(-1).First();
        if (dim < 1)
            throw new ArgumentException("Cannot infer the spatial dimension d: no vector, position or pseudovector input; pass spatialDim.", nameof(spatialDim));
        using (var check = torch.NewDisposeScope())
        {
            var identity = EuclideanTransform.Identity(dim, device: inputs[inputSpecs[0].Name].device);
            foreach (var spec in inputSpecs) ApplyInput(spec, inputs[spec.Name], identity); // shape errors before any model call
        }
        var translatedInput = inputSpecs.FirstOrDefault(s => s.Type.IsTranslated);
        var first = inputs[inputSpecs[0].Name];
        var problem = new Problem
        {
            Dim = dim,
            Device = first.device,
            TranslationScale = options.TranslationScale ?? (translatedInput is null ? 1.0 : RmsRadius(inputs[translatedInput.Name].reshape(-1, dim))),
            HasTranslatedInput = translatedInput is not null,
            CanPermute = rows >= 0,
            Sizes = new Dictionary<FieldLevel, long> { [FieldLevel.Node] = rows },
            Evaluate = (g, p) =>
            {
                if (g is null && p is null) return function(inputs);
                var transformed = new Dictionary<string, Tensor>(inputs);
                foreach (var spec in inputSpecs)
                {
                    var x = inputs[spec.Name];
                    x = g is null ? x.clone() : ApplyInput(spec, x, g);
                    if (p is not null && spec.Level == FieldLevel.Node) x = p.PermuteNodes(x);
                    transformed[spec.Name] = x;
                }
                return function(transformed);
            },
            RandomPermutation = gen => GraphPermutation.Random(rows, 0, gen, permuteEdges: false, device: first.device),
        };
        var title = $"Equivariance check of {options.Name} (inputs: {string.Join("; ", inputSpecs)})";
        return Run(problem, outputs, options with { Batching = false }, title, null);
    }

    /// <summary>Checks a plain function and throws <see cref="EquivarianceException"/> if any case fails.</summary>
    public static EquivarianceReport AssertFunction(Func<Tensor, Tensor> function, Tensor input, FieldType inputType, FieldSpec output,
        EquivarianceOptions? options = null, int? spatialDim = null) =>
        ThrowIfFailed(CheckFunction(function, input, inputType, output, options, spatialDim));

    // ------------------------------------------------------------------ engine

    private sealed class Problem
    {
        public required int Dim { get; init; }
        public required Device Device { get; init; }
        public required double TranslationScale { get; init; }
        public required bool HasTranslatedInput { get; init; }
        public required bool CanPermute { get; init; }
        public required Dictionary<FieldLevel, long> Sizes { get; init; }
        public required Func<EuclideanTransform?, GraphPermutation?, IReadOnlyDictionary<string, Tensor>> Evaluate { get; init; }
        public required Func<Generator, GraphPermutation> RandomPermutation { get; init; }
    }

    private static EquivarianceReport Run(Problem problem, IReadOnlyList<FieldSpec> outputs, EquivarianceOptions options, string title,
        Action<Generator, IReadOnlyDictionary<string, Tensor>, List<EquivarianceCase>>? batching)
    {
        var cases = new List<EquivarianceCase>();
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator((ulong)options.Seed);
        int d = problem.Dim;

        var reference = Invoke(problem.Evaluate, null, null, "reference", 0, "identity");
        ValidateOutputs(reference, outputs, problem, d);

        void Case(string check, int sample, EuclideanTransform? g, GraphPermutation? p)
        {
            using var caseScope = torch.NewDisposeScope();
            string description = Describe(g, p);
            var actual = Invoke(problem.Evaluate, g, p, check, sample, description);
            foreach (var spec in outputs)
                cases.Add(Compare(check, sample, description, spec, Expected(reference[spec.Name], spec, g, p), actual, options));
        }

        EuclideanTransform Proper() => new(Rotations.RandomSpecialOrthogonal(d, gen, ScalarType.Float64, problem.Device));
        Tensor Shift() => (torch.randn(new long[] { d }, dtype: ScalarType.Float64, generator: gen) * problem.TranslationScale).to(problem.Device);

        for (int s = 0; s < options.Samples && options.Rotations; s++)
            Case("rotation", s, Proper(), null);
        for (int s = 0; s < options.Samples && options.Reflections; s++)
            Case("reflection", s, new EuclideanTransform(Rotations.RandomReflection(d, gen, ScalarType.Float64, problem.Device)), null);
        for (int s = 0; s < options.Samples && options.Translations && problem.HasTranslatedInput; s++)
            Case("translation", s, EuclideanTransform.FromTranslation(Shift()), null);
        for (int s = 0; s < options.Samples && options.Permutations && problem.CanPermute; s++)
            Case("permutation", s, null, problem.RandomPermutation(gen));

        bool orthogonal = options.Rotations || options.Reflections;
        bool translate = options.Translations && problem.HasTranslatedInput;
        bool permute = options.Permutations && problem.CanPermute;
        if (options.Combined && (orthogonal ? 1 : 0) + (translate ? 1 : 0) + (permute ? 1 : 0) >= 2)
        {
            for (int s = 0; s < options.Samples; s++)
            {
                Tensor r = !orthogonal ? torch.eye(d, dtype: ScalarType.Float64, device: problem.Device)
                    : options.Reflections && options.Rotations ? Rotations.RandomOrthogonal(d, gen, ScalarType.Float64, problem.Device)
                    : options.Reflections ? Rotations.RandomReflection(d, gen, ScalarType.Float64, problem.Device)
                    : Rotations.RandomSpecialOrthogonal(d, gen, ScalarType.Float64, problem.Device);
                var g = new EuclideanTransform(r, translate ? Shift() : null);
                Case("combined", s, g, permute ? problem.RandomPermutation(gen) : null);
            }
        }

        if (options.Batching && batching is not null)
            batching(gen, reference, cases);
        return new EquivarianceReport(cases, title);
    }

    private static void BatchingCases(Func<GraphBatch, IReadOnlyDictionary<string, Tensor>> model, GraphBatch input, IReadOnlyList<FieldSpec> outputs,
        EquivarianceOptions options, Generator gen, List<EquivarianceCase> cases)
    {
        var graphs = input.Split();
        double jitter = 0.5 * RmsRadius(input.Positions);
        for (int s = 0; s < options.Samples; s++)
        {
            using var scope = torch.NewDisposeScope();
            int g = s % graphs.Count;
            var graph = graphs[g];
            int c = options.BatchingCompanions;
            int k = RandomInt(gen, c + 1);
            var list = new List<GeometricGraph>();
            for (int i = 0; i < c; i++)
                list.Add(options.CompanionGraph?.Invoke(gen) ?? Companion(input, graphs, gen, jitter));
            list.Insert(k, graph);
            GraphBatch Prepare(IReadOnlyList<GeometricGraph> gs)
            {
                GraphBatch b;
                try { b = GraphBatch.FromGraphs(gs); }
                catch (GraphValidationException e)
                {
                    throw new ArgumentException($"Batching check: companion graphs do not batch with input graph {g}: {e.Message}", e);
                }
                return options.RecomputeInputs is null ? b : options.RecomputeInputs(b);
            }
            var alone = Prepare(new[] { graph });
            var together = Prepare(list);
            string description = $"graph {g} at {k} of {list.Count}";
            var outAlone = Invoke((_, _) => model(alone), null, null, "batching", s, description);
            var outTogether = Invoke((_, _) => model(together), null, null, "batching", s, description);
            long n0 = together.Ptr[k].item<long>(), e0 = together.EdgePtr[k].item<long>();
            foreach (var spec in outputs)
            {
                var t = outTogether.TryGetValue(spec.Name, out var v) ? v : null;
                Tensor? slice = t is null ? null : spec.Level switch
                {
                    FieldLevel.Node => SafeNarrow(t, n0, graph.NumNodes),
                    FieldLevel.Edge => SafeNarrow(t, e0, graph.NumEdges),
                    _ => SafeNarrow(t, k, 1),
                };
                cases.Add(Compare("batching", s, description, spec, outAlone[spec.Name],
                    slice is null ? outTogether : new Dictionary<string, Tensor> { [spec.Name] = slice }, options,
                    slice is null && t is not null ? $"batched output {GraphValidation.Shape(t)} too short for {spec.Level} rows" : null));
            }
        }
    }

    private static Tensor? SafeNarrow(Tensor t, long start, long length) =>
        t.dim() >= 1 && t.shape[0] >= start + length ? t.narrow(0, start, length) : null;

    /// <summary>A random graph shaped like the input's graphs: nodes permuted, positions jittered, rows resampled.</summary>
    private static GeometricGraph Companion(GraphBatch input, IReadOnlyList<GeometricGraph> graphs, Generator gen, double jitter)
    {
        var src = graphs[RandomInt(gen, graphs.Count)];
        long n = src.NumNodes, e = src.NumEdges;
        var perm = Permutations.Random(n, gen, src.Positions.device);
        var relabel = new GraphPermutation(perm, null, e);
        var noise = torch.randn(new[] { n, src.SpatialDim }, dtype: ScalarType.Float64, generator: gen) * jitter;
        Tensor? Rows(Tensor? all, long count, long available)
        {
            if (all is null) return null;
            if (count == 0 || available == 0) return all.narrow(0, 0, 0).clone();
            var idx = (torch.rand(new[] { count }, dtype: ScalarType.Float64, generator: gen) * available).floor().to(ScalarType.Int64).clamp_max(available - 1);
            return all.index_select(0, idx.to(all.device));
        }
        return new GeometricGraph
        {
            Positions = src.Positions.index_select(0, perm) + noise.to(src.Positions.dtype, src.Positions.device),
            EdgeIndex = relabel.PermuteEdgeIndex(src.EdgeIndex),
            NodeFeatures = Rows(input.NodeFeatures, n, input.NumNodes),
            NodeVectors = Rows(input.NodeVectors, n, input.NumNodes),
            NodeAttributes = Rows(input.NodeAttributes, n, input.NumNodes),
            EdgeAttributes = Rows(input.EdgeAttributes, e, input.NumEdges),
            NodeTarget = Rows(input.NodeTarget, n, input.NumNodes),
            GraphTarget = input.GraphTarget?[RandomInt(gen, input.NumGraphs)],
        };
    }

    private static Tensor Expected(Tensor reference, FieldSpec spec, EuclideanTransform? g, GraphPermutation? p)
    {
        var e = reference;
        if (p is not null)
            e = spec.Level switch
            {
                FieldLevel.Node => p.PermuteNodes(e),
                FieldLevel.Edge => p.PermuteEdges(e),
                _ => e,
            };
        return g is null ? e : spec.Type.Apply(e, g);
    }

    private static EquivarianceCase Compare(string check, int sample, string transform, FieldSpec spec, Tensor expected,
        IReadOnlyDictionary<string, Tensor> actualOutputs, EquivarianceOptions options, string? note = null)
    {
        string name = spec.ToString();
        if (note is not null || !actualOutputs.TryGetValue(spec.Name, out var actual) || actual is null)
            return new EquivarianceCase(check, sample, transform, name, double.PositiveInfinity, double.PositiveInfinity, double.NaN,
                options.AbsoluteTolerance, false, note ?? "output missing");
        if (!actual.shape.SequenceEqual(expected.shape))
            return new EquivarianceCase(check, sample, transform, name, double.PositiveInfinity, double.PositiveInfinity, double.NaN,
                options.AbsoluteTolerance, false, $"shape {GraphValidation.Shape(actual)}, expected {GraphValidation.Shape(expected)}");
        using var scope = torch.NewDisposeScope();
        double maxAbs = 0, scale = 0;
        if (expected.numel() > 0)
        {
            var a = actual.detach().to(ScalarType.Float64);
            var x = expected.detach().to(ScalarType.Float64, a.device);
            maxAbs = (a - x).abs().max().item<double>();
            scale = Math.Max(x.abs().max().item<double>(), a.abs().max().item<double>());
        }
        double tolerance = options.AbsoluteTolerance + options.RelativeTolerance * (double.IsFinite(scale) ? scale : 0);
        double relative = maxAbs == 0 ? 0 : maxAbs / scale;
        bool passed = maxAbs <= tolerance;
        string? why = double.IsNaN(maxAbs) || double.IsNaN(scale) ? "NaN in output" : double.IsInfinity(scale) ? "infinite output" : null;
        if (why is null && !passed && actual.dtype != ScalarType.Float64 && relative < 1e-3)
            why = $"{actual.dtype} output: use float64, or RelativeTolerance ~1e-5 for float32";
        if (passed && scale == 0)
            return new EquivarianceCase(check, sample, transform, name, maxAbs, relative, scale, tolerance, true, "zero output: vacuous");
        return new EquivarianceCase(check, sample, transform, name, maxAbs, relative, scale, tolerance, passed && why is null, why);
    }

    private static IReadOnlyDictionary<string, Tensor> Invoke(Func<EuclideanTransform?, GraphPermutation?, IReadOnlyDictionary<string, Tensor>> evaluate,
        EuclideanTransform? g, GraphPermutation? p, string check, int sample, string description)
    {
        IReadOnlyDictionary<string, Tensor>? result;
        try { result = evaluate(g, p); }
        catch (Exception e) when (e is not EquivarianceException)
        {
            throw new InvalidOperationException($"The model threw during the {check} check, sample {sample} ({description}): {e.Message}", e);
        }
        return result ?? throw new InvalidOperationException($"The model returned null during the {check} check, sample {sample} ({description}).");
    }

    private static void ValidateOutputs(IReadOnlyDictionary<string, Tensor> reference, IReadOnlyList<FieldSpec> outputs, Problem problem, int d)
    {
        using var scope = torch.NewDisposeScope();
        var identity = EuclideanTransform.Identity(d, device: problem.Device);
        foreach (var spec in outputs)
        {
            if (!reference.TryGetValue(spec.Name, out var t) || t is null)
                throw new ArgumentException($"The model returned no output named '{spec.Name}'; it returned [{string.Join(", ", reference.Keys)}].", nameof(outputs));
            if (spec.Level != FieldLevel.Graph || problem.Sizes.ContainsKey(FieldLevel.Graph))
            {
                if (problem.Sizes.TryGetValue(spec.Level, out long expected) && expected >= 0 && (t.dim() == 0 || t.shape[0] != expected))
                {
                    string symbol = spec.Level switch { FieldLevel.Node => "N", FieldLevel.Edge => "E", _ => "G" };
                    throw new ArgumentException(
                        $"Output '{spec.Name}' is declared {spec.Level.ToString().ToLowerInvariant()}-level, so its first dimension must be {symbol} = {expected}; got shape {GraphValidation.Shape(t)}.", nameof(outputs));
                }
            }
            try { spec.Type.Apply(t, identity); }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Output '{spec.Name}' {GraphValidation.Shape(t)} does not fit its declared type '{spec.Type.Name}': {e.Message}", nameof(outputs), e);
            }
        }
    }

    private static void CheckSpecs(IReadOnlyList<FieldSpec> specs, string name = "outputs")
    {
        ArgumentNullException.ThrowIfNull(specs, name);
        if (specs.Count == 0) throw new ArgumentException($"Declare at least one field in {name}.", name);
        var dup = specs.GroupBy(o => o.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"'{dup.Key}' is declared twice in {name}.", name);
        foreach (var o in specs)
            if (o is null || o.Type is null) throw new ArgumentException($"A field in {name} has no field type.", name);
    }

    private static Tensor ApplyInput(FieldSpec spec, Tensor input, EuclideanTransform g)
    {
        try { return spec.Type.Apply(input, g); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Input '{spec.Name}' {GraphValidation.Shape(input)} cannot be transformed as '{spec.Type.Name}': {e.Message}", "inputs", e);
        }
    }

    private static string Describe(EuclideanTransform? g, GraphPermutation? p)
    {
        var parts = new List<string>();
        if (g is not null) parts.Add(g.ToString());
        if (p is not null) parts.Add(p.NumEdges > 0 ? $"perm N={p.NumNodes} E={p.NumEdges}" : $"perm N={p.NumNodes}");
        return parts.Count == 0 ? "identity" : string.Join(", ", parts);
    }

    private static double RmsRadius(Tensor positions)
    {
        if (positions.dim() != 2 || positions.shape[0] == 0) return 1.0;
        using var scope = torch.NewDisposeScope();
        var x = positions.detach().to(ScalarType.Float64);
        double rms = (x - x.mean(new long[] { 0 }, keepdim: true)).pow(2).sum(1).mean().sqrt().item<double>();
        return rms > 0 && double.IsFinite(rms) ? rms : 1.0;
    }

    private static int RandomInt(Generator gen, int count)
    {
        using var u = torch.rand(new long[] { 1 }, dtype: ScalarType.Float64, generator: gen);
        return Math.Min(count - 1, (int)Math.Floor(u.item<double>() * count));
    }

    private static EquivarianceReport ThrowIfFailed(EquivarianceReport report)
    {
        if (!report.Passed) throw new EquivarianceException(report);
        return report;
    }
}
