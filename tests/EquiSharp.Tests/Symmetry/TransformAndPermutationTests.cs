using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Symmetry;

public class TransformAndPermutationTests
{
    private static double MaxAbs(Tensor t) => t.abs().max().to(ScalarType.Float64).item<double>();

    internal static GeometricGraph RandomGraph(Generator gen, long n, int d = 3, bool vectors = true)
    {
        var pos = torch.randn(new[] { n, (long)d }, dtype: ScalarType.Float64, generator: gen);
        var src = new List<long>(); var dst = new List<long>();
        for (long i = 0; i < n; i++)
            for (long j = 0; j < n; j++)
                if (i != j && (i + 2 * j) % 3 != 0) { src.Add(j); dst.Add(i); }
        var ei = torch.tensor(src.Concat(dst).ToArray()).reshape(2, src.Count);
        return new GeometricGraph
        {
            Positions = pos,
            EdgeIndex = ei,
            NodeFeatures = torch.randn(new[] { n, 4L }, dtype: ScalarType.Float64, generator: gen),
            NodeVectors = vectors ? torch.randn(new[] { n, 2L, (long)d }, dtype: ScalarType.Float64, generator: gen) : null,
            EdgeAttributes = torch.randn(new[] { (long)src.Count, 2L }, dtype: ScalarType.Float64, generator: gen),
            GraphTarget = torch.randn(new[] { 1L }, dtype: ScalarType.Float64, generator: gen),
        };
    }

    [Fact]
    public void EuclideanTransform_AppliesToPositionsVectorsAndPseudovectors()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(1);
        var g = EuclideanTransform.Random(3, gen, allowReflections: false, translationScale: 2.0);
        var x = torch.randn(new long[] { 7, 3 }, dtype: ScalarType.Float64, generator: gen);
        var expected = g.Rotation.matmul(x.t()).t() + g.Translation;
        Assert.True(MaxAbs(g.ApplyToPositions(x) - expected) < 1e-14);
        Assert.True(MaxAbs(g.ApplyToVectors(x) - g.Rotation.matmul(x.t()).t()) < 1e-14);
        Assert.True(MaxAbs(g.Inverse().ApplyToPositions(g.ApplyToPositions(x)) - x) < 1e-13);
        var h = EuclideanTransform.Random(3, gen, allowReflections: true);
        Assert.True(MaxAbs(h.Compose(g).ApplyToPositions(x) - h.ApplyToPositions(g.ApplyToPositions(x))) < 1e-13);
        // Cross products are pseudovectors: (Ra) × (Rb) = det(R) R (a × b).
        var refl = new EuclideanTransform(Rotations.RandomReflection(3, gen));
        Assert.True(refl.IsImproper && refl.Parity == -1);
        var a = torch.randn(new long[] { 5, 3 }, dtype: ScalarType.Float64, generator: gen);
        var b = torch.randn(new long[] { 5, 3 }, dtype: ScalarType.Float64, generator: gen);
        var lhs = torch.linalg.cross(refl.ApplyToVectors(a), refl.ApplyToVectors(b));
        Assert.True(MaxAbs(lhs - refl.ApplyToPseudovectors(torch.linalg.cross(a, b))) < 1e-13);
        Assert.True(MaxAbs(lhs - refl.ApplyToVectors(torch.linalg.cross(a, b))) > 0.1);
        // Float32 inputs are transformed in float32.
        Assert.Equal(ScalarType.Float32, g.ApplyToPositions(x.to(ScalarType.Float32)).dtype);
        var e = Assert.Throws<ArgumentException>(() => g.ApplyToPositions(torch.zeros(4, 2, dtype: ScalarType.Float64)));
        Assert.Contains("[4, 2]", e.Message);
        Assert.Contains("SO(3)", g.ToString());
    }

    [Fact]
    public void GraphPermutation_RelabelsEdgesConsistently_AndInverseRestoresTheGraph()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(2);
        var graph = RandomGraph(gen, 7);
        var p = GraphPermutation.Random(graph, gen);
        var q = p.Apply(graph);
        q.Validate();
        Assert.True(MaxAbs(q.Positions - graph.Positions[p.NodePermutation]) == 0);
        // New edge k is old edge EdgePermutation[k]: same edge vector and same attributes.
        var oldVec = graph.Positions[graph.EdgeIndex[1]] - graph.Positions[graph.EdgeIndex[0]];
        var newVec = q.Positions[q.EdgeIndex[1]] - q.Positions[q.EdgeIndex[0]];
        Assert.True(MaxAbs(newVec - oldVec[p.EdgePermutation]) == 0);
        Assert.True(MaxAbs(q.EdgeAttributes! - graph.EdgeAttributes![p.EdgePermutation]) == 0);
        Assert.False(MaxAbs(p.NodePermutation - torch.arange(7)) == 0);
        // Inverse permutation restores everything exactly.
        var back = p.Inverse().Apply(q);
        Assert.True(MaxAbs(back.Positions - graph.Positions) == 0);
        Assert.True(MaxAbs(back.EdgeIndex - graph.EdgeIndex) == 0);
        Assert.True(MaxAbs(back.NodeVectors! - graph.NodeVectors!) == 0);
        Assert.True(MaxAbs(back.EdgeAttributes! - graph.EdgeAttributes!) == 0);
        Assert.True(MaxAbs(p.InverseNodePermutation[p.NodePermutation] - torch.arange(7)) == 0);
    }

    [Fact]
    public void GraphPermutation_WithinGraphs_KeepsTheBatchStructure()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(3);
        using var batch = GraphBatch.FromGraphs(new[] { RandomGraph(gen, 4), RandomGraph(gen, 6), RandomGraph(gen, 5) });
        var p = GraphPermutation.RandomWithinGraphs(batch, gen);
        using var permuted = p.Apply(batch);
        permuted.Validate();
        Assert.True(MaxAbs(permuted.Batch - batch.Batch) == 0);
        for (int g = 0; g < 3; g++)
        {
            // Each graph's node set is unchanged, its edges stay in its own block.
            var a = batch.GetGraph(g); var b = permuted.GetGraph(g);
            Assert.True(MaxAbs(a.Positions.sum(0) - b.Positions.sum(0)) < 1e-12);
            Assert.Equal(a.NumEdges, b.NumEdges);
        }
        using var restored = p.Inverse().Apply(permuted);
        Assert.True(MaxAbs(restored.EdgeIndex - batch.EdgeIndex) == 0);
        // A permutation across graphs is refused with a clear message.
        var across = new GraphPermutation(torch.arange(batch.NumNodes - 1, -1, -1, dtype: ScalarType.Int64), null, batch.NumEdges);
        var e = Assert.Throws<ArgumentException>(() => across.Apply(batch));
        Assert.Contains("between graphs", e.Message);
    }

    [Fact]
    public void Permutations_ValidateAndInvert()
    {
        using var scope = torch.NewDisposeScope();
        var p = Permutations.Random(10, new Generator(4));
        Assert.True(MaxAbs(Permutations.Inverse(p)[p] - torch.arange(10)) == 0);
        Assert.True(MaxAbs(Permutations.Random(10, new Generator(4)) - p) == 0);
        var e = Assert.Throws<ArgumentException>(() => Permutations.Validate(torch.tensor(new long[] { 0, 2, 2 })));
        Assert.Contains("not a permutation", e.Message);
        Assert.Throws<ArgumentException>(() => new GraphPermutation(torch.tensor(new long[] { 0, 1 }), torch.tensor(new long[] { 1, 1 })));
    }
}
