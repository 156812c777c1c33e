using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.GroupConv;
using EquiSharp.Groups;
using EquiSharp.Models;
using EquiSharp.Symmetry;
using EquiSharp.Tests.MessagePassing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquiSharp.Tests.GroupConv;

public class LieConvTests(ITestOutputHelper output)
{
    private static readonly Lazy<NBodyDataset> Data = new(() =>
        NBodyDataset.Generate(14, new NBodySplitSizes(0, 0, 6), new NBodySimulationOptions(Steps: 4101)));

    private static NBodyLieConv Model(ulong seed) =>
        PonitaTests.Randomized(new NBodyLieConv(new NBodyModelOptions(Hidden: 8, Layers: 2), stabiliserSamples: 3), seed);

    private static GraphBatch Moved(GraphBatch b, Tensor r, double shift) => b with
    {
        Positions = b.Positions.matmul(r.t()) + shift,
        NodeVectors = b.NodeVectors!.matmul(r.t()),
    };

    [Fact]
    public void ExactlyEquivariantForTheRotationGroupUsedAsStabiliserSamples()
    {
        var model = Model(1);
        model.FixedSamples = RotationGroups.Tetrahedral();
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1 }, dtype: ScalarType.Float64);
        var y = model.forward(batch);
        double scale = E3.MaxAbs(y - batch.Positions), worst = 0;
        var group = RotationGroups.Tetrahedral();
        for (long k = 0; k < group.shape[0]; k++)
        {
            var r = group[k];
            worst = Math.Max(worst, E3.MaxAbs(model.forward(Moved(batch, r, 1.7)) - (y.matmul(r.t()) + 1.7)) / scale);
        }
        Assert.True(worst < 1e-12, $"tetrahedral: {worst}");
        // A rotation outside the group is not respected exactly with fixed samples.
        var q = Rotations.RandomSO3(new Generator(3));
        double off = E3.MaxAbs(model.forward(Moved(batch, q, 0)) - y.matmul(q.t())) / scale;
        output.WriteLine($"fixed tetrahedral samples: error {worst:E2} for the 12 group rotations, {off:E2} for a random rotation");
        Assert.True(off > 1e-6);
    }

    [Fact]
    public void RandomSamplesGiveEquivarianceInDistributionThroughAnExactIdentity()
    {
        // f(Qx; S) = Q f(x; Qᵀ S): with Haar-random S (and hence Haar Qᵀ S) the output distribution is equivariant.
        var model = Model(2);
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 2, 3, 4 }, dtype: ScalarType.Float64);
        var gen = new Generator(7);
        var samples = Rotations.RandomSO3(3, gen);
        var q = Rotations.RandomSO3(gen);
        var lhs = model.Predict(Moved(batch, q, -0.4), samples);
        var rhs = model.Predict(batch, q.t().matmul(samples)).matmul(q.t()) - 0.4;
        double err = E3.MaxAbs(lhs - rhs) / E3.MaxAbs(rhs - batch.Positions.matmul(q.t()));
        Assert.True(err < 1e-12, $"identity error {err}");
        // Eval mode uses the same (seeded) samples every call: deterministic.
        model.eval();
        Assert.Equal(0.0, E3.MaxAbs(model.forward(batch) - model.forward(batch)));
    }

    [Fact]
    public void PairInputsAreInvariantUnderLeftMultiplication()
    {
        var gen = new Generator(5);
        var group = SE3.Instance;
        var x = torch.randn(new long[] { 4, 3 }, dtype: ScalarType.Float64, generator: gen);
        var samples = Rotations.RandomSO3(2, gen);
        var (elements, orbits) = group.Lift(x, samples);
        elements = elements.reshape(8, 4, 4);
        var edges = torch.tensor(new long[] { 0, 1, 2, 3, 1, 2, 3, 0 }, new long[] { 2, 4 });
        var (pairs, edge) = LieConv.Pairs(edges, 4, 2);
        Assert.Equal(new long[] { 2, (4 + 4) * 4 }, pairs.shape);
        Assert.Equal(16L, (edge < 0).sum().item<long>());
        var k = group.Exp(torch.randn(new long[] { 6 }, dtype: ScalarType.Float64, generator: gen) * 2);
        var a = LieConv.PairInput(group, elements, orbits.repeat_interleave(2, 0), pairs);
        var b = LieConv.PairInput(group, k.matmul(elements), orbits.repeat_interleave(2, 0), pairs);
        Assert.True(E3.MaxAbs(a - b) < 1e-10, $"{E3.MaxAbs(a - b)}");
        // Neighbourhood by group distance: a radius keeps exactly the pairs within it.
        var (near, _) = LieConv.Pairs(edges, 4, 2, group, elements, radius: 2.0);
        var d = group.Distance(elements.index_select(0, pairs[1]), elements.index_select(0, pairs[0]));
        Assert.Equal((d <= 2.0).sum().item<long>(), near.shape[1]);
    }

    [Fact]
    public void PairInputsOfTheScaleTranslationGroupAreInvariantUnderDilations()
    {
        var gen = new Generator(6);
        var group = new ScaleTranslationGroup(3);
        var x = torch.randn(new long[] { 4, 3 }, dtype: ScalarType.Float64, generator: gen);
        var (elements, orbits) = group.Lift(x, group.Scalings(torch.tensor(new[] { 0.5, 2.0 })));
        Assert.Equal(0L, orbits.shape[1]);
        elements = elements.reshape(8, 4, 4);
        var edges = torch.tensor(new long[] { 0, 1, 2, 3, 1, 2, 3, 0 }, new long[] { 2, 4 });
        var (pairs, _) = LieConv.Pairs(edges, 4, 2);
        // k scales by e^1.5 ≈ 4.5 and translates: x ↦ k·x lifts to k g, so the kernel inputs do not change.
        var k = group.Exp(torch.tensor(new[] { 1.5, 0.3, -2, 1 }));
        var a = LieConv.PairInput(group, elements, orbits, pairs);
        var b = LieConv.PairInput(group, k.matmul(elements), orbits, pairs);
        Assert.True(E3.MaxAbs(a - b) < 1e-12, $"{E3.MaxAbs(a - b)}");
        Assert.True(E3.MaxAbs(a.narrow(1, 0, 1)) > 0.5); // the log-scale differences of the samples are present
    }
}
