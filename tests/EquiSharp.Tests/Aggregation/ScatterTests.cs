using EquiSharp.Aggregation;
using EquiSharp.Tests.TestUtilities;
using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Agg = EquiSharp.Aggregation.Aggregation;

namespace EquiSharp.Tests.Aggregation;

public class ScatterTests
{
    private static (Tensor Src, Tensor Index) RandomInput(long edges, long dimSize, long seed, params long[] trailing)
    {
        var gen = new torch.Generator((ulong)seed);
        var shape = new[] { edges }.Concat(trailing).ToArray();
        // dimSize - 1 is never targeted, so one row is always isolated.
        var index = torch.randint(0, Math.Max(1, dimSize - 1), new[] { edges }, dtype: ScalarType.Int64, generator: gen);
        return (torch.randn(shape, dtype: ScalarType.Float64, generator: gen), index);
    }

    /// <summary>Naive per-row reference computed on the host.</summary>
    private static Tensor Reference(Tensor src, Tensor index, long dimSize, Agg agg)
    {
        var rows = new List<Tensor>();
        var idx = index.data<long>().ToArray();
        for (long k = 0; k < dimSize; k++)
        {
            var members = Enumerable.Range(0, idx.Length).Where(e => idx[e] == k).Select(e => (long)e).ToArray();
            var trailing = src.shape.Skip(1).ToArray();
            if (members.Length == 0) { rows.Add(torch.zeros(trailing, dtype: src.dtype)); continue; }
            var group = src.index_select(0, torch.tensor(members));
            rows.Add(agg switch
            {
                Agg.Sum => group.sum(new long[] { 0 }),
                Agg.Mean => group.mean(new long[] { 0 }),
                Agg.Max => group.amax(new long[] { 0 }),
                Agg.Min => group.amin(new long[] { 0 }),
                Agg.Softmax => (group.softmax(0) * group).sum(new long[] { 0 }),
                _ => throw new ArgumentOutOfRangeException(nameof(agg)),
            });
        }
        return torch.stack(rows, 0);
    }

    [Theory]
    [InlineData(Agg.Sum)]
    [InlineData(Agg.Mean)]
    [InlineData(Agg.Max)]
    [InlineData(Agg.Min)]
    [InlineData(Agg.Softmax)]
    public void AgreesWithNaiveReferenceIncludingIsolatedRows(Agg agg)
    {
        var (src, index) = RandomInput(60, 13, seed: 1, 3, 2);
        var result = Scatter.Aggregate(src, index, 13, agg);
        Assert.Equal(new long[] { 13, 3, 2 }, result.shape);
        var expected = Reference(src, index, 13, agg);
        Assert.True(torch.allclose(result, expected, rtol: 1e-12, atol: 1e-12), $"{agg} differs from the reference.");
        Assert.Equal(0.0, result[12].abs().max().item<double>());
    }

    [Theory]
    [InlineData(Agg.Sum)]
    [InlineData(Agg.Mean)]
    [InlineData(Agg.Max)]
    [InlineData(Agg.Min)]
    [InlineData(Agg.Softmax)]
    public void GradientsMatchFiniteDifferences(Agg agg)
    {
        // Continuous random values: no ties, so max/min are differentiable at the sample point.
        var (src, index) = RandomInput(24, 7, seed: 2, 3);
        double error = FiniteDifferences.MaxGradientError(x => Scatter.Aggregate(x, index, 7, agg), src);
        Assert.True(error < 1e-7, $"{agg}: gradient error {error}");
    }

    [Fact]
    public void SoftmaxGradientMatchesFiniteDifferences()
    {
        var (src, index) = RandomInput(20, 6, seed: 3, 2);
        double error = FiniteDifferences.MaxGradientError(x => Scatter.Softmax(x, index, 6), src);
        Assert.True(error < 1e-7, $"gradient error {error}");
    }

    [Fact]
    public void SoftmaxSumsToOnePerTargetAndIsStableForLargeInputs()
    {
        var (src, index) = RandomInput(50, 9, seed: 4, 4);
        var weights = Scatter.Softmax(src * 1000.0, index, 9);
        Assert.False(weights.isnan().any().item<bool>());
        var sums = Scatter.Sum(weights, index, 9);
        var count = Scatter.Count(index, 9);
        var expected = (count > 0).to_type(ScalarType.Float64).unsqueeze(1).expand(-1, 4);
        Assert.True(torch.allclose(sums, expected, rtol: 0, atol: 1e-12));
    }

    [Fact]
    public void TiedMaximaShareTheGradient()
    {
        var src = torch.tensor(new double[] { 1, 5, 3, 7, 7 }).requires_grad_(true);
        var index = torch.tensor(new long[] { 0, 0, 1, 1, 1 });
        Scatter.Max(src, index, 3).sum().backward();
        Assert.Equal(new double[] { 0, 1, 0, 0.5, 0.5 }, src.grad!.data<double>().ToArray());
    }

    [Fact]
    public void ExtremaWithAutogradEqualThoseWithoutAndSurviveInfinities()
    {
        var gen = new Generator(4);
        var values = torch.randn(new long[] { 200, 3 }, dtype: ScalarType.Float32, generator: gen);
        var index = torch.randint(0, 40, new[] { 200L }, dtype: ScalarType.Int64, generator: gen);
        foreach (var extremum in new Func<Tensor, Tensor, long, Tensor>[] { Scatter.Max, Scatter.Min })
        {
            var plain = extremum(values, index, 50);
            var src = values.clone().requires_grad_(true);
            var withGrad = extremum(src, index, 50);
            Assert.True(withGrad.requires_grad);
            Assert.True(plain.equal(withGrad.detach()).all().item<bool>(), "autograd must not change the result");
        }
        var x = torch.tensor(new double[] { double.PositiveInfinity, 1, double.NegativeInfinity, 2 }).requires_grad_(true);
        var i = torch.tensor(new long[] { 0, 0, 1, 1 });
        var max = Scatter.Max(x, i, 2);
        Assert.Equal(new[] { double.PositiveInfinity, 2 }, max.data<double>().ToArray());
        max.sum().backward();
        Assert.Equal(new double[] { 1, 0, 0, 1 }, x.grad!.data<double>().ToArray());
    }

    [Fact]
    public void EmptySourceGivesZeros()
    {
        var src = torch.zeros(new long[] { 0, 4 }, dtype: ScalarType.Float64);
        var index = torch.zeros(0, dtype: ScalarType.Int64);
        foreach (Agg agg in Enum.GetValues<Agg>())
        {
            var r = Scatter.Aggregate(src, index, 5, agg);
            Assert.Equal(new long[] { 5, 4 }, r.shape);
            Assert.Equal(0.0, r.abs().sum().item<double>());
        }
    }

    [Fact]
    public void BadInputGivesClearErrors()
    {
        var src = torch.randn(4, 2, dtype: ScalarType.Float64);
        var ex = Assert.Throws<ArgumentException>(() => Scatter.Sum(src, torch.tensor(new long[] { 0, 1, 5, 1 }), 3));
        Assert.Contains("index contains 5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Scatter.Max(src, torch.tensor(new long[] { 0, -1, 2, 1 }), 3));
        Assert.Contains("-1", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Scatter.Mean(src, torch.tensor(new long[] { 0, 1, 2 }), 3));
        Assert.Contains("[3]", ex.Message);
        Assert.Contains("[4, 2]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Scatter.Min(src, torch.tensor(new int[] { 0, 1, 2, 1 }), 3));
        Assert.Contains("int64", ex.Message);
    }

    [Fact]
    public void AggregationsArePermutationInvariant()
    {
        Prop.ForAll(Gen.Choose(1, 40).ToArbitrary(), Gen.Choose(1, 10).ToArbitrary(), Gen.Choose(0, 10_000).ToArbitrary(), (edges, nodes, seed) =>
        {
            using var scope = torch.NewDisposeScope();
            var (src, index) = RandomInput(edges, nodes, seed, 3);
            var perm = torch.randperm(edges, generator: new torch.Generator((ulong)seed + 1));
            return Enum.GetValues<Agg>().All(agg =>
                torch.allclose(Scatter.Aggregate(src, index, nodes, agg),
                    Scatter.Aggregate(src.index_select(0, perm), index.index_select(0, perm), nodes, agg), rtol: 1e-12, atol: 1e-12));
        }).QuickCheckThrowOnFailure();
    }
}
