using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Equivariance;

public class EquivarianceCheckerTests(ITestOutputHelper output)
{
    private static readonly string[] GeometricChecks = { "rotation", "reflection", "translation", "permutation", "combined", "batching" };

    private static void AssertOnlyFailed(EquivarianceReport report, params string[] failing)
    {
        foreach (var check in GeometricChecks)
        {
            bool ran = report.Cases.Any(c => c.Check == check);
            Assert.True(ran, $"check '{check}' did not run:\n{report}");
            Assert.True(report.Failed(check) == failing.Contains(check),
                $"check '{check}' {(report.Failed(check) ? "failed" : "passed")} unexpectedly:\n{report}");
        }
    }

    [Fact]
    public void EquivariantEgnn_PassesEveryCheck_AtFloat64Tolerance()
    {
        using var scope = torch.NewDisposeScope();
        var model = new TinyEgnn(features: 4);
        using var batch = OtherModels.RandomBatch(1, 5, 7, 6);
        var report = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs, new EquivarianceOptions { Name = "TinyEgnn" });
        output.WriteLine(report.ToTable());
        Assert.True(report.Passed, report.ToTable());
        AssertOnlyFailed(report);
        // 5 outputs × (5 checks × 3 samples + 3 batching samples), every error at rounding level.
        Assert.Equal(5 * 18, report.Cases.Count);
        Assert.True(report.MaxRelativeError < 1e-12, $"max relative error {report.MaxRelativeError}");
        // The outputs are not trivially zero: the comparison had something to compare.
        Assert.All(report.Cases, c => Assert.True(c.Scale > 0.1, c.ToString()));
        EquivarianceChecker.Assert(model.Forward, batch, TinyEgnn.Outputs); // does not throw
    }

    [Fact]
    public void EquivariantEgnn_PassesIn2D_WithSO2AndO2()
    {
        using var scope = torch.NewDisposeScope();
        var model = new TinyEgnn(features: 4);
        var gen = new Generator(17);
        using var batch = GraphBatch.FromGraphs(new[]
        {
            EquiSharp.Tests.Symmetry.TransformAndPermutationTests.RandomGraph(gen, 5, d: 2),
            EquiSharp.Tests.Symmetry.TransformAndPermutationTests.RandomGraph(gen, 6, d: 2),
        });
        var report = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs, new EquivarianceOptions { Samples = 2 });
        Assert.True(report.Passed, report.ToTable());
        Assert.Contains(report.Cases, c => c.Transform.StartsWith("SO(2)"));
        Assert.Contains(report.Cases, c => c.Transform.StartsWith("O(2) det -1"));
    }

    [Fact]
    public void SignedVolume_IsAPseudoscalar()
    {
        using var scope = torch.NewDisposeScope();
        using var batch = OtherModels.RandomBatch(18, 5, 6);
        // Per graph: (x1 − x0) · ((x2 − x0) × (x3 − x0)) of the first four nodes, [G, 1].
        Tensor Volume(GraphBatch b)
        {
            var rows = new List<Tensor>();
            for (int g = 0; g < b.NumGraphs; g++)
            {
                var x = b.GetGraph(g).Positions;
                var (a, c, d) = (x[1] - x[0], x[2] - x[0], x[3] - x[0]);
                rows.Add((a * torch.linalg.cross(c, d)).sum().reshape(1));
            }
            return torch.stack(rows, 0);
        }
        // Invariant under permutations? No: it depends on which nodes come first, so check E(3) only.
        var options = new EquivarianceOptions { Permutations = false, Batching = false };
        Assert.True(EquivarianceChecker.Check(Volume, batch, FieldSpec.Graph("volume", FieldType.Pseudoscalar), options).Passed);
        var asInvariant = EquivarianceChecker.Check(Volume, batch, FieldSpec.Graph("volume", FieldType.Invariant), options);
        Assert.True(asInvariant.Failed("reflection") && !asInvariant.Failed("rotation") && !asInvariant.Failed("translation"));
        // ... and the permutation check does catch the node-order dependence.
        Assert.False(EquivarianceChecker.CheckPermutation(Volume, batch, FieldSpec.Graph("volume", FieldType.Pseudoscalar)).Passed);
    }

    [Fact]
    public void MlpOnRawCoordinates_FailsRotation()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(3);
        var mlp = torch.nn.Linear(3, 3).to(ScalarType.Float64);
        using var batch = OtherModels.RandomBatch(2, 6, 4);
        var spec = FieldSpec.Node("positions", FieldType.Position);
        var report = EquivarianceChecker.Check(b => mlp.forward(b.Positions), batch, spec);
        // Row-wise, so permutation and batching still hold; everything geometric fails.
        AssertOnlyFailed(report, "rotation", "reflection", "translation", "combined");
        var e = Assert.Throws<EquivarianceException>(() => EquivarianceChecker.Assert(b => mlp.forward(b.Positions), batch, spec));
        Assert.Contains("rotation", e.Message);
        Assert.Contains("FAIL", e.Message);
        Assert.Contains("positions (node position)", e.Message);
        Assert.False(e.Report.Passed);
    }

    [Fact]
    public void AbsolutePositionsInMessages_FailsTranslationOnly()
    {
        using var scope = torch.NewDisposeScope();
        var model = new TinyEgnn(4, defect: Defect.AbsolutePositions);
        using var batch = OtherModels.RandomBatch(3, 5, 6);
        var report = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs);
        AssertOnlyFailed(report, "translation", "combined");
    }

    [Fact]
    public void NodeIndexDependence_FailsPermutation()
    {
        using var scope = torch.NewDisposeScope();
        var model = new TinyEgnn(4, defect: Defect.NodeIndex);
        using var batch = OtherModels.RandomBatch(4, 5, 6);
        var report = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs);
        // The global node index also shifts with the graph's offset in a batch, so batching fails too.
        AssertOnlyFailed(report, "permutation", "combined", "batching");
        Assert.Contains(report.Failures, c => c.Check == "permutation" && c.Output.StartsWith("features"));
        Assert.DoesNotContain(report.Failures, c => c.Output.StartsWith("positions"));
    }

    [Fact]
    public void MixingGraphsInABatch_FailsBatchingOnly()
    {
        using var scope = torch.NewDisposeScope();
        var model = new TinyEgnn(4, defect: Defect.MixesGraphs);
        using var batch = OtherModels.RandomBatch(5, 5, 6);
        var report = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs);
        AssertOnlyFailed(report, "batching");
        Assert.Contains(report.Failures, c => c.Output.StartsWith("energy (graph"));
        Assert.Contains("graph", report.Failures[0].Transform);
        var only = EquivarianceChecker.CheckBatching(model.Forward, batch, TinyEgnn.Outputs);
        Assert.All(only.Cases, c => Assert.Equal("batching", c.Check));
        Assert.False(only.Passed);
    }

    [Fact]
    public void PseudovectorDeclaredAsVector_FailsReflectionOnly_AndPassesWhenDeclaredCorrectly()
    {
        using var scope = torch.NewDisposeScope();
        using var batch = OtherModels.RandomBatch(6, 5, 4);
        var wrong = EquivarianceChecker.Check(OtherModels.CrossProduct, batch, FieldSpec.Node("torque", FieldType.Vector));
        AssertOnlyFailed(wrong, "reflection", "combined");
        Assert.All(wrong.Failures.Where(c => c.Check == "combined"), c => Assert.Contains("det -1", c.Transform));
        var right = EquivarianceChecker.Check(OtherModels.CrossProduct, batch, FieldSpec.Node("torque", FieldType.Pseudovector));
        Assert.True(right.Passed, right.ToTable());
        // Chiral (SE(3)-only) use: reflections off, vector declaration passes.
        var noReflections = EquivarianceChecker.Check(OtherModels.CrossProduct, batch, FieldSpec.Node("torque", FieldType.Vector),
            new EquivarianceOptions { Reflections = false });
        Assert.True(noReflections.Passed, noReflections.ToTable());
        Assert.DoesNotContain(noReflections.Cases, c => c.Transform.Contains("det -1"));
    }

    [Fact]
    public void RepresentationField_PlugsInAnyDofR()
    {
        using var scope = torch.NewDisposeScope();
        using var batch = OtherModels.RandomBatch(7, 5, 4);
        // Rank-2 tensor v vᵀ flattened to 9 numbers transforms with D(R) = R ⊗ R.
        var rank2 = FieldType.Representation("1o⊗1o", r => torch.kron(r, r));
        Tensor Outer(GraphBatch b)
        {
            var v = b.NodeVectors![.., 0, ..];
            var d = b.Positions - OtherModels.Centroids(b);
            return (v.unsqueeze(-1) * d.unsqueeze(-2)).reshape(-1, 9);
        }
        var report = EquivarianceChecker.Check(Outer, batch, FieldSpec.Node("stress", rank2));
        Assert.True(report.Passed, report.ToTable());
        Assert.Contains("1o⊗1o", report.Cases[0].Output);
        // The wrong representation (plain R ⊗ I would be wrong; use det(R)·R⊗R) fails reflections only.
        var wrong = EquivarianceChecker.Check(Outer, batch, FieldSpec.Node("stress", new ParityTimes(r => torch.kron(r, r))));
        AssertOnlyFailed(wrong, "reflection", "combined");
        // A subclass overriding Matrix: det(R) R is the pseudovector representation.
        var pseudo = EquivarianceChecker.Check(OtherModels.CrossProduct, batch, FieldSpec.Node("torque", new ParityTimes(r => r)));
        Assert.True(pseudo.Passed, pseudo.ToTable());
        // A dimension mismatch between D(R) and the output is an argument error naming both.
        var e = Assert.Throws<ArgumentException>(() =>
            EquivarianceChecker.Check(Outer, batch, FieldSpec.Node("stress", FieldType.Representation("1o", r => r))));
        Assert.Contains("k = 3", e.Message);
        Assert.Contains("stress", e.Message);
    }

    private sealed class ParityTimes(Func<Tensor, Tensor> inner) : RepresentationField("parity×")
    {
        public override Tensor Matrix(Tensor orthogonal) => torch.linalg.det(orthogonal) * inner(orthogonal);
    }

    [Fact]
    public void InputTypes_AndRecomputeHook_HandleGeometricEdgeAttributes()
    {
        using var scope = torch.NewDisposeScope();
        static GraphBatch WithRelativeVectors(GraphBatch b) => b with
        {
            EdgeAttributes = b.Positions.index_select(0, b.EdgeIndex[1]) - b.Positions.index_select(0, b.EdgeIndex[0]),
        };
        using var raw = OtherModels.RandomBatch(8, 5, 6);
        var batch = WithRelativeVectors(raw);
        // Model: Σ_j e_ij, a node vector built from edge attributes only.
        Tensor Model(GraphBatch b) => torch.zeros(b.NumNodes, 3, dtype: ScalarType.Float64).index_add_(0, b.EdgeIndex[1], b.EdgeAttributes!, 1.0);
        var spec = FieldSpec.Node("force", FieldType.Vector);
        // Declared invariant (the default) and not recomputed: the edge attributes do not rotate, the check fails.
        var stale = EquivarianceChecker.Check(Model, batch, spec);
        Assert.True(stale.Failed("rotation"));
        // Recomputed from the transformed positions by the hook: passes.
        int calls = 0;
        var hooked = EquivarianceChecker.Check(Model, batch, spec, new EquivarianceOptions { RecomputeInputs = b => { calls++; return WithRelativeVectors(b); } });
        Assert.True(hooked.Passed, hooked.ToTable());
        Assert.True(calls >= 15);
        // Declared as vectors: the kit rotates them itself.
        var typed = EquivarianceChecker.Check(Model, batch, spec, new EquivarianceOptions { Inputs = new InputFieldTypes { EdgeAttributes = FieldType.Vector } });
        Assert.True(typed.Passed, typed.ToTable());
    }

    [Fact]
    public void PermutationCheck_WorksOnNonGeometricModels()
    {
        using var scope = torch.NewDisposeScope();
        using var batch = OtherModels.RandomBatch(9, 6, 5);
        // Sum aggregation of features over incoming edges: permutation equivariant, positions unused.
        Tensor Gnn(GraphBatch b) => b.NodeFeatures! + torch.zeros_like(b.NodeFeatures!).index_add_(0, b.EdgeIndex[1], b.NodeFeatures!.index_select(0, b.EdgeIndex[0]).tanh(), 1.0);
        var spec = FieldSpec.Node("h", FieldType.Invariant);
        var ok = EquivarianceChecker.CheckPermutation(Gnn, batch, spec);
        Assert.True(ok.Passed, ok.ToTable());
        Assert.All(ok.Cases, c => Assert.Equal("permutation", c.Check));
        // Reading the node's index breaks it.
        var bad = EquivarianceChecker.CheckPermutation(b => Gnn(b) * torch.arange(b.NumNodes, dtype: ScalarType.Float64).unsqueeze(-1), batch, spec);
        Assert.False(bad.Passed);
        // Edge outputs follow the edge permutation; one that ignores the edge order (sorted) fails.
        Tensor EdgeOut(GraphBatch b) => (b.NodeFeatures!.index_select(0, b.EdgeIndex[0]) * b.NodeFeatures!.index_select(0, b.EdgeIndex[1])).sum(-1);
        Assert.True(EquivarianceChecker.CheckPermutation(EdgeOut, batch, FieldSpec.Edge("w", FieldType.Invariant)).Passed);
        Tensor Sorted(GraphBatch b) => EdgeOut(b).sort().Values;
        Assert.False(EquivarianceChecker.CheckPermutation(Sorted, batch, FieldSpec.Edge("w", FieldType.Invariant)).Passed);
    }

    [Fact]
    public void PlainFunctions_AreCheckedWithoutGraphs()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(new long[] { 10, 3 }, dtype: ScalarType.Float64, generator: new Generator(10));
        // Centering: node-level vectors.
        var centred = EquivarianceChecker.CheckFunction(p => p - p.mean(new long[] { 0 }, keepdim: true), x, FieldType.Position, FieldSpec.Node("centred", FieldType.Vector));
        Assert.True(centred.Passed, centred.ToTable());
        Assert.Contains(centred.Cases, c => c.Check == "translation");
        Assert.DoesNotContain(centred.Cases, c => c.Check == "batching");
        // Centroid: a global position. Sum of positions is not (translates by N t).
        Assert.True(EquivarianceChecker.CheckFunction(p => p.mean(new long[] { 0 }), x, FieldType.Position, FieldSpec.Graph("c", FieldType.Position)).Passed);
        var sum = EquivarianceChecker.CheckFunction(p => p.sum(new long[] { 0 }), x, FieldType.Position, FieldSpec.Graph("s", FieldType.Position));
        Assert.True(sum.Failed("translation") && !sum.Failed("rotation") && !sum.Failed("permutation"));
        // Norms of vectors are invariant; squares of components are not.
        Assert.True(EquivarianceChecker.CheckFunction(v => v.norm(-1), x, FieldType.Vector, FieldSpec.Node("n", FieldType.Invariant)).Passed);
        var squares = EquivarianceChecker.CheckFunction(v => v * v, x, FieldType.Vector, FieldSpec.Node("sq", FieldType.Vector));
        Assert.True(squares.Failed("rotation"));
        Assert.DoesNotContain(squares.Cases, c => c.Check == "translation"); // vectors do not translate
        // Throwing variant.
        Assert.Throws<EquivarianceException>(() => EquivarianceChecker.AssertFunction(v => v * v, x, FieldType.Vector, FieldSpec.Node("sq", FieldType.Vector)));
        // 2D: SO(2)/O(2).
        var x2 = torch.randn(new long[] { 8, 2 }, dtype: ScalarType.Float64, generator: new Generator(11));
        var r2 = EquivarianceChecker.CheckFunction(p => p - p.mean(new long[] { 0 }, keepdim: true), x2, FieldType.Position, FieldSpec.Node("c", FieldType.Vector));
        Assert.True(r2.Passed, r2.ToTable());
        Assert.Contains(r2.Cases, c => c.Transform.Contains("SO(2)"));
    }

    [Fact]
    public void PlainFunctions_WithSeveralInputs_PermuteNodeInputsTogether()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(16);
        var inputs = new Dictionary<string, Tensor>
        {
            ["h"] = torch.randn(new long[] { 7, 4 }, dtype: ScalarType.Float64, generator: gen),
            ["x"] = torch.randn(new long[] { 7, 3 }, dtype: ScalarType.Float64, generator: gen),
            ["scale"] = torch.tensor(new[] { 0.7 }),
        };
        var inSpecs = new[]
        {
            FieldSpec.Node("h", FieldType.Invariant), FieldSpec.Node("x", FieldType.Position), FieldSpec.Graph("scale", FieldType.Invariant),
        };
        var outSpecs = new[]
        {
            FieldSpec.Node("h", FieldType.Invariant), FieldSpec.Node("x", FieldType.Position), FieldSpec.Graph("energy", FieldType.Invariant),
        };
        // A fully connected EGNN-like layer on a point cloud.
        IReadOnlyDictionary<string, Tensor> Layer(IReadOnlyDictionary<string, Tensor> a)
        {
            var h = a["h"]; var x = a["x"];
            var rel = x.unsqueeze(1) - x.unsqueeze(0);                 // [P, P, 3], x_i − x_j
            var w = (-rel.pow(2).sum(-1) * a["scale"]).exp();          // [P, P]
            var hh = h.matmul(h.t()).tanh() * w;
            var hNew = h + w.matmul(h);
            var xNew = x + (rel * hh.unsqueeze(-1)).sum(1);
            return new Dictionary<string, Tensor> { ["h"] = hNew, ["x"] = xNew, ["energy"] = hNew.pow(2).sum() };
        }
        var report = EquivarianceChecker.CheckFunction(Layer, inputs, inSpecs, outSpecs, new EquivarianceOptions { Name = "layer" });
        Assert.True(report.Passed, report.ToTable());
        Assert.Equal(3 * 3 * 5, report.Cases.Count);
        // Using the row index breaks permutation equivariance.
        var broken = EquivarianceChecker.CheckFunction(a => Layer(new Dictionary<string, Tensor>(a) { ["h"] = a["h"] + torch.arange(7, dtype: ScalarType.Float64).unsqueeze(-1) }),
            inputs, inSpecs, outSpecs);
        Assert.True(broken.Failed("permutation") && !broken.Failed("rotation") && !broken.Failed("translation"));
        // Node-level inputs must agree on P.
        var bad = new Dictionary<string, Tensor>(inputs) { ["h"] = torch.zeros(5, 4, dtype: ScalarType.Float64) };
        var e = Assert.Throws<ArgumentException>(() => EquivarianceChecker.CheckFunction(Layer, bad, inSpecs, outSpecs));
        Assert.Contains("'h' has 5, 'x' has shape [7, 3]", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => EquivarianceChecker.CheckFunction(Layer, inputs,
            new[] { FieldSpec.Node("h", FieldType.Vector), inSpecs[1], inSpecs[2] }, outSpecs, spatialDim: 3));
        Assert.Contains("Input 'h' [7, 4]", e2.Message);
    }

    [Fact]
    public void Tolerances_AreConfigurable()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(new long[] { 10, 3 }, dtype: ScalarType.Float64, generator: new Generator(12));
        // Float32 arithmetic: equivariant up to ~1e-7 relative.
        Tensor F32(Tensor p) => (p.to(ScalarType.Float32) - p.to(ScalarType.Float32).mean(new long[] { 0 }, keepdim: true)).to(ScalarType.Float64);
        var spec = FieldSpec.Node("c", FieldType.Vector);
        var strict = EquivarianceChecker.CheckFunction(F32, x, FieldType.Position, spec);
        Assert.False(strict.Passed);
        Assert.All(strict.Failures, c => Assert.InRange(c.RelativeError, 1e-9, 1e-5));
        var loose = EquivarianceChecker.CheckFunction(F32, x, FieldType.Position, spec, new EquivarianceOptions { RelativeTolerance = 1e-5 });
        Assert.True(loose.Passed, loose.ToTable());
        Assert.All(loose.Cases, c => Assert.Equal(1e-12 + 1e-5 * c.Scale, c.Tolerance, 1e-15));
    }

    [Fact]
    public void Report_IsATable_AndRunsAreReproducible()
    {
        using var scope = torch.NewDisposeScope();
        var model = new TinyEgnn(4, defect: Defect.AbsolutePositions);
        using var batch = OtherModels.RandomBatch(13, 5, 4);
        var options = new EquivarianceOptions { Samples = 2, Name = "broken" };
        var a = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs, options);
        var b = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs, options);
        var table = a.ToTable();
        output.WriteLine(table);
        Assert.Contains("broken: FAILED", table);
        Assert.Contains("failed checks: translation, combined", table);
        Assert.Contains("max abs err", table);
        Assert.Contains("FAIL", table);
        Assert.Contains("ok", table);
        Assert.Equal(table, b.ToTable());
        Assert.Equal(a.Cases.Count, b.Cases.Count);
        var other = EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs, options with { Seed = 99 });
        Assert.NotEqual(table, other.ToTable());
        Assert.Equal(a.Failures.Count, a.ToTable(failuresOnly: true).Split('\n').Count(l => l.Contains("FAIL") && !l.Contains("FAILED")));
    }

    [Fact]
    public void MisdeclaredOutputs_AreClearArgumentErrors()
    {
        using var scope = torch.NewDisposeScope();
        var model = new TinyEgnn(4);
        using var batch = OtherModels.RandomBatch(14, 5, 4);
        var missing = Assert.Throws<ArgumentException>(() => EquivarianceChecker.Check(model.Forward, batch, new[] { FieldSpec.Node("forces", FieldType.Vector) }));
        Assert.Contains("'forces'", missing.Message);
        Assert.Contains("positions", missing.Message);
        var level = Assert.Throws<ArgumentException>(() => EquivarianceChecker.Check(model.Forward, batch, new[] { FieldSpec.Node("messages", FieldType.Invariant) }));
        Assert.Contains("N = 9", level.Message);
        var type = Assert.Throws<ArgumentException>(() => EquivarianceChecker.Check(model.Forward, batch, new[] { FieldSpec.Node("features", FieldType.Vector) }));
        Assert.Contains("d = 3", type.Message);
        Assert.Throws<ArgumentException>(() => EquivarianceChecker.Check(model.Forward, batch, TinyEgnn.Outputs, new EquivarianceOptions { Samples = 0 }));
        // A model that throws on transformed input is reported with the case.
        int calls = 0;
        var e = Assert.Throws<InvalidOperationException>(() => EquivarianceChecker.Check(
            b => { if (calls++ > 0) throw new InvalidOperationException("boom"); return b.Positions; }, batch, FieldSpec.Node("x", FieldType.Position)));
        Assert.Contains("rotation check, sample 0", e.Message);
        Assert.Contains("boom", e.Message);
    }

    [Fact]
    public void NaNOutputs_Fail()
    {
        using var scope = torch.NewDisposeScope();
        using var batch = OtherModels.RandomBatch(15, 4);
        var report = EquivarianceChecker.Check(b => b.Positions.sum(-1, keepdim: true) * double.NaN, batch, FieldSpec.Node("nan", FieldType.Invariant),
            new EquivarianceOptions { Samples = 1 });
        Assert.False(report.Passed);
        Assert.All(report.Cases, c => Assert.Equal("NaN in output", c.Note));
    }
}
