using EquiSharp.Datasets.NBody;
using EquiSharp.Graphs;
using EquiSharp.Models;
using EquiSharp.Tests.MessagePassing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Models;

public class NBodyModelsTests(ITestOutputHelper output)
{
    private static readonly Lazy<NBodyDataset> Data = new(() =>
        NBodyDataset.Generate(11, new NBodySplitSizes(200, 0, 50), new NBodySimulationOptions(Steps: 4101)));

    /// <summary>The batch with positions/velocities transformed by x → xQ + t, v → vQ.</summary>
    private static GraphBatch Transformed(GraphBatch b, Tensor q, Tensor shift) => b with
    {
        Positions = b.Positions.matmul(q) + shift,
        NodeVectors = b.NodeVectors!.matmul(q),
    };

    private static GraphBatch Permuted(GraphBatch b, long[] perm)
    {
        var p = torch.tensor(perm);
        return b with
        {
            Positions = b.Positions.index_select(0, p),
            NodeVectors = b.NodeVectors!.index_select(0, p),
            NodeFeatures = b.NodeFeatures!.index_select(0, p),
            EdgeIndex = E3.PermuteEdges(b.EdgeIndex, perm),
        };
    }

    private static void Randomize(nn.Module module, Generator gen)
    {
        using var _ = torch.no_grad();
        foreach (var p in module.parameters())
            p.copy_(torch.randn(p.shape, dtype: p.dtype, generator: gen) * 0.1);
    }

    [Fact]
    public void EgnnIsE3EquivariantAndPermutationEquivariant()
    {
        var gen = new Generator(23);
        var model = new NBodyEgnn(new NBodyModelOptions(Hidden: 16, Layers: 3));
        model.to(ScalarType.Float64);
        Randomize(model, gen);
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2, 3 }, dtype: ScalarType.Float64);
        var y = model.forward(batch);
        Assert.Equal(new long[] { 20, 3 }, y.shape);
        // Large enough to expose errors, small enough that the ±100 clamp (not rotation-equivariant) stays inactive.
        double move = E3.MaxAbs(y - batch.Positions);
        Assert.InRange(move, 0.05, 20);
        foreach (bool reflect in new[] { false, true })
        {
            var q = E3.RandomOrthogonal(gen, reflect);
            var shift = torch.randn(new long[] { 1, 3 }, dtype: ScalarType.Float64, generator: gen) * 5;
            var y2 = model.forward(Transformed(batch, q, shift));
            double err = E3.MaxAbs(y2 - (y.matmul(q) + shift));
            Assert.True(err < 1e-10, $"reflect {reflect}: equivariance error {err}");
        }
        var perm = E3.BlockPermutation(4, 5, new Random(1));
        var y3 = model.forward(Permuted(batch, perm));
        Assert.True(E3.MaxAbs(y3 - y.index_select(0, torch.tensor(perm))) < 1e-10);
    }

    [Fact]
    public void LinearDynamicsIsConstantVelocityWithALearnedTimeAndE3Equivariant()
    {
        var gen = new Generator(5);
        var model = new NBodyLinearDynamics(initialTime: 0.3);
        model.to(ScalarType.Float64);
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2 }, dtype: ScalarType.Float64);
        var v = batch.NodeVectors!.view(-1, 3);
        var y = model.forward(batch);
        double t0 = model.Time.item<double>();
        Assert.Equal(0.3, t0, 6);
        Assert.True(E3.MaxAbs(y - (batch.Positions + t0 * v)) < 1e-15);
        foreach (bool reflect in new[] { false, true })
        {
            var q = E3.RandomOrthogonal(gen, reflect);
            var shift = torch.randn(new long[] { 1, 3 }, dtype: ScalarType.Float64, generator: gen) * 5;
            Assert.True(E3.MaxAbs(model.forward(Transformed(batch, q, shift)) - (y.matmul(q) + shift)) < 1e-12);
        }
        Assert.Single(model.parameters());

        // Training moves t to the least-squares optimum t* = SUM v·(x_T − x) / SUM |v|².
        var dx = batch.NodeTarget! - batch.Positions;
        double tStar = ((v * dx).sum() / v.square().sum()).item<double>();
        var optimizer = torch.optim.Adam(model.parameters(), lr: 0.02);
        for (int step = 0; step < 300; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.mse_loss(model.forward(batch), batch.NodeTarget!).backward();
            optimizer.step();
        }
        output.WriteLine($"t: 0.3 -> {model.Time.item<double>():F4}, optimum {tStar:F4}");
        Assert.Equal(tStar, model.Time.item<double>(), 2);
    }

    [Fact]
    public void GnnBaselineIsNotRotationEquivariant()
    {
        // The check must detect a non-equivariant model, or it proves nothing about EGNN.
        var gen = new Generator(29);
        var model = new NBodyGnn(new NBodyModelOptions(Hidden: 16, Layers: 2));
        model.to(ScalarType.Float64);
        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1 }, dtype: ScalarType.Float64);
        var y = model.forward(batch);
        var q = E3.RandomOrthogonal(gen, false);
        var y2 = model.forward(Transformed(batch, q, torch.zeros(1, 3, dtype: ScalarType.Float64)));
        Assert.True(E3.MaxAbs(y2 - y.matmul(q)) > 1e-3);
        // It is permutation equivariant, like any message passing network.
        var perm = E3.BlockPermutation(2, 5, new Random(2));
        Assert.True(E3.MaxAbs(model.forward(Permuted(batch, perm)) - y.index_select(0, torch.tensor(perm))) < 1e-10);
    }

    [Theory]
    [InlineData("egnn", 0.6)]
    [InlineData("gnn", 0.6)]
    [InlineData("linear", 0.6)]
    [InlineData("segnn", 0.6, 8, 2)]
    [InlineData("tfn", 0.6, 8, 2)]
    public void AFewAdamStepsReduceTheMse(string name, double factor, int hidden = 32, int layers = 4)
    {
        torch.manual_seed(3);
        var model = NBodyModels.Create(name, new NBodyModelOptions(Hidden: hidden, Layers: layers));
        var data = Data.Value;
        using var batch = data.CreateBatch(NBodySplit.Train, Enumerable.Range(0, 100).ToArray());
        using var test = data.CreateBatch(NBodySplit.Test, Enumerable.Range(0, 50).ToArray());
        var optimizer = torch.optim.Adam(model.parameters(), lr: 5e-3);
        double Mse(GraphBatch b)
        {
            using var _ = torch.no_grad();
            return nn.functional.mse_loss(model.forward(b), b.NodeTarget!).item<float>();
        }
        double before = Mse(test);
        for (int step = 0; step < 60; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.mse_loss(model.forward(batch), batch.NodeTarget!).backward();
            optimizer.step();
        }
        double after = Mse(test);
        output.WriteLine($"{name}: held-out MSE {before:F4} -> {after:F4}");
        Assert.True(after < factor * before, $"{name}: {before} -> {after}");
    }

    [Fact]
    public void FactoryNamesAndInputErrors()
    {
        Assert.IsType<NBodyEgnn>(NBodyModels.Create("EGNN"));
        Assert.IsType<NBodyGnn>(NBodyModels.Create("gnn"));
        Assert.IsType<NBodyLinear>(NBodyModels.Create("linear"));
        Assert.IsType<NBodyLinearDynamics>(NBodyModels.Create("linear-vel"));
        var e = Assert.Throws<ArgumentException>(() => NBodyModels.Create("se3-transformer"));
        Assert.Contains("egnn, gnn, linear, linear-vel", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => NBodyModels.Create("egnn", new NBodyModelOptions(Layers: 0)));

        using var batch = Data.Value.CreateBatch(NBodySplit.Test, new[] { 0 });
        var model = NBodyModels.Create("egnn");
        Assert.Contains("NodeVectors", Assert.Throws<GraphValidationException>(() => model.forward(batch with { NodeVectors = null })).Message);
        Assert.Contains("EdgeAttributes", Assert.Throws<GraphValidationException>(() => model.forward(batch with { EdgeAttributes = torch.ones(20, 2) })).Message);
        // The reference EGNN_vel (hidden 64, 4 layers, 2 edge attributes) has 134,020 parameters:
        // embedding 128; per layer edge 8448 + 4160, node 8256 + 4160, coordinate 4160 + 64 (no bias), velocity 4160 + 65.
        Assert.Equal(134_020, model.parameters().Sum(p => p.numel()));
    }
}
