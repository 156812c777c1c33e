using EquiSharp.Datasets.NBody;
using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.GroupConv;
using EquiSharp.Groups;
using EquiSharp.Models;
using EquiSharp.Symmetry;
using EquiSharp.Tests.GroupConv;
using EquiSharp.Tests.MessagePassing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Equivariance;

public class RotationAveragingTests(ITestOutputHelper output)
{
    private static readonly Lazy<NBodyDataset> Data = new(() =>
        NBodyDataset.Generate(21, new NBodySplitSizes(0, 0, 6), new NBodySimulationOptions(Steps: 4101)));

    private static readonly NBodyModelOptions Small = new(Hidden: 8, Layers: 2);

    private static GraphBatch Batch() => Data.Value.CreateBatch(NBodySplit.Test, new[] { 0, 1, 2 }, dtype: ScalarType.Float64);

    [Fact]
    public void AveragingOverAGroupMakesANonEquivariantModelExactlyEquivariantToIt()
    {
        using var batch = Batch();
        var gnn = PonitaTests.Randomized(new NBodyGnn(Small), 3);
        var group = RotationGroups.Tetrahedral();
        var averaged = new RotationAveraging(gnn, group, FieldType.Position);
        double plain = PonitaTests.WorstError(gnn, batch, group);
        double inGroup = PonitaTests.WorstError(averaged, batch, group);
        double outside = PonitaTests.WorstError(averaged, batch, Rotations.RandomSO3(4, new Generator(8)));
        output.WriteLine($"relative error: plain GNN over the 12 tetrahedral rotations {plain:E2}; averaged over the group {inGroup:E2}; averaged, 4 random rotations {outside:E2}");
        Assert.True(plain > 1e-2, $"the plain GNN should not be equivariant ({plain})");
        Assert.True(inGroup < 1e-12, $"group-averaged model, group rotations: {inGroup}");
        Assert.True(outside > 1e-4, $"only the group is guaranteed; a random rotation gave {outside}");
    }

    [Fact]
    public void AveragingLeavesAnEquivariantModelAndItsGradientsUnchanged()
    {
        using var batch = Batch();
        var egnn = PonitaTests.Randomized(new NBodyEgnn(Small), 4);
        var averaged = new RotationAveraging(egnn, RotationAveraging.RandomRotations(5, seed: 2), FieldType.Position);
        var plain = egnn.forward(batch);
        var mean = averaged.forward(batch);
        Assert.True(E3.MaxAbs(mean - plain) < 1e-10 * E3.MaxAbs(plain), $"difference {E3.MaxAbs(mean - plain)}");

        var parameters = egnn.parameters().ToArray();
        Tensor?[] Gradients(Tensor y)
        {
            foreach (var p in parameters) p.grad?.zero_();
            y.square().sum().backward();
            return parameters.Select(p => p.grad?.clone()).ToArray();
        }
        var g1 = Gradients(egnn.forward(batch));
        var g2 = Gradients(averaged.forward(batch));
        Assert.Contains(g1, g => g is not null && E3.MaxAbs(g) > 0);
        for (int i = 0; i < g1.Length; i++)
        {
            Assert.Equal(g1[i] is null, g2[i] is null);
            if (g1[i] is { } a && g2[i] is { } b)
                Assert.True(E3.MaxAbs(a - b) <= 1e-9 * Math.Max(E3.MaxAbs(a), 1e-12), $"parameter {i}: gradient difference {E3.MaxAbs(a - b)}");
        }
    }

    [Fact]
    public void RandomRotationAveragingShrinksPonitasGridError()
    {
        using var batch = Batch();
        var ponita = PonitaTests.Randomized(new NBodyPonita(Small, SphereGrids.Sphere(16)), 5);
        var probes = Rotations.RandomSO3(6, new Generator(13));
        double plain = PonitaTests.WorstError(ponita, batch, probes);
        double averaged = PonitaTests.WorstError(new RotationAveraging(ponita, RotationAveraging.RandomRotations(16, seed: 3), FieldType.Position), batch, probes);
        output.WriteLine($"PONITA (16-point grid, random weights), relative error over 6 random rotations: {plain:E2} plain, {averaged:E2} averaged over 16 rotations");
        Assert.True(averaged < 0.5 * plain, $"averaged {averaged} vs plain {plain}");
    }

    [Fact]
    public void RandomRotationsAreSeededProperRotationsStartingWithTheIdentity()
    {
        var a = RotationAveraging.RandomRotations(6, 3, seed: 9);
        var b = RotationAveraging.RandomRotations(6, 3, seed: 9);
        var c = RotationAveraging.RandomRotations(6, 3, seed: 10);
        Assert.Equal(new long[] { 6, 3, 3 }, a.shape);
        Assert.True(a.allclose(b, 0, 0));
        Assert.False(a.allclose(c, 0, 0));
        Assert.True(E3.MaxAbs(a[0] - torch.eye(3, dtype: ScalarType.Float64)) == 0);
        Assert.True(E3.MaxAbs(a.matmul(a.transpose(1, 2)) - torch.eye(3, dtype: ScalarType.Float64)) < 1e-12);
        Assert.True(E3.MaxAbs(torch.linalg.det(a) - 1) < 1e-12);
        Assert.Equal(new long[] { 1, 2, 2 }, RotationAveraging.RandomRotations(1, 2).shape);
        Assert.Throws<ArgumentOutOfRangeException>(() => RotationAveraging.RandomRotations(0));
    }

    [Fact]
    public void BadRotationsAndMismatchedBatchesAreRejected()
    {
        var gnn = new NBodyGnn(Small);
        var shape = Assert.Throws<ArgumentException>(() => new RotationAveraging(gnn, torch.eye(3), FieldType.Position));
        Assert.Contains("[3, 3]", shape.Message);
        var skew = torch.eye(3, dtype: ScalarType.Float64).unsqueeze(0) * 1.1;
        var notOrthogonal = Assert.Throws<ArgumentException>(() => new RotationAveraging(gnn, skew, FieldType.Position));
        Assert.Contains("not orthogonal", notOrthogonal.Message);
        var planar = new RotationAveraging(gnn, RotationAveraging.RandomRotations(2, 2), FieldType.Position);
        using var batch = Batch();
        var dims = Assert.Throws<ArgumentException>(() => planar.forward(batch));
        Assert.Contains("2×2", dims.Message);
    }
}
