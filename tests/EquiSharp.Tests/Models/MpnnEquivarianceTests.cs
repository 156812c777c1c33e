using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Models;
using EquiSharp.Readout;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Models;

/// <summary>Symmetry of the foundation layers and of Gilmer's MPNN, checked with the equivariance kit in float64.</summary>
public class MpnnEquivarianceTests
{
    private static GraphBatch Molecules(int count, long seed)
    {
        var gen = new torch.Generator((ulong)seed);
        return GraphBatch.FromGraphs(Enumerable.Range(0, count).Select(k => MpnnTests.DistanceGraph(3 + k % 3, gen)).ToList());
    }

    /// <summary>Distances must be recomputed from the transformed positions: they are derived inputs.</summary>
    private static GraphBatch WithDistances(GraphBatch b) => b with
    {
        EdgeAttributes = (b.Positions.index_select(0, b.EdgeIndex[0]) - b.Positions.index_select(0, b.EdgeIndex[1])).norm(1, keepdim: true),
    };

    [Fact]
    public void MpnnOnDistancesIsE3InvariantPermutationInvariantAndBatchable()
    {
        torch.manual_seed(21);
        var model = new Mpnn(new MpnnOptions(NodeChannels: 3, EdgeChannels: 1, Hidden: 8, EdgeHidden: 8)).to(ScalarType.Float64);
        model.eval();
        using var batch = Molecules(3, 5);
        var report = EquivarianceChecker.Check(b => model.forward(b), batch, FieldSpec.Graph("prediction", FieldType.Invariant),
            new EquivarianceOptions { Name = "MPNN", RecomputeInputs = WithDistances });
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
        foreach (var check in new[] { "rotation", "reflection", "translation", "permutation", "batching" })
            Assert.Contains(report.Cases, c => c.Check == check);
    }

    [Fact]
    public void MpnnOnRawRelativeVectorsIsNotRotationInvariantAndTheKitSaysSo()
    {
        // The same model fed x_j - x_i instead of distances: translation invariant only.
        torch.manual_seed(22);
        var model = new Mpnn(new MpnnOptions(NodeChannels: 3, EdgeChannels: 3, Hidden: 8, EdgeHidden: 8)).to(ScalarType.Float64);
        model.eval();
        static GraphBatch Relative(GraphBatch b) => b with
        {
            EdgeAttributes = b.Positions.index_select(0, b.EdgeIndex[0]) - b.Positions.index_select(0, b.EdgeIndex[1]),
        };
        using var batch = Relative(Molecules(2, 6));
        var report = EquivarianceChecker.Check(b => model.forward(b), batch, FieldSpec.Graph("prediction", FieldType.Invariant),
            new EquivarianceOptions { Name = "PointConv-like MPNN", RecomputeInputs = Relative });
        Assert.False(report.Passed);
        Assert.Contains("rotation", report.FailedChecks);
        Assert.DoesNotContain("translation", report.FailedChecks);
        Assert.DoesNotContain("permutation", report.FailedChecks);
    }

    [Fact]
    public void EdgeNetworkConvIsPermutationEquivariant()
    {
        torch.manual_seed(23);
        var conv = new EdgeNetworkConv(3, 4, 1, edgeHidden: 6).to(ScalarType.Float64);
        using var batch = Molecules(2, 7);
        var report = EquivarianceChecker.CheckPermutation(
            b => conv.forward(b.NodeFeatures!, EdgeContext.FromBatch(b)), batch, FieldSpec.Node("h", FieldType.Invariant));
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
        var batching = EquivarianceChecker.CheckBatching(
            b => conv.forward(b.NodeFeatures!, EdgeContext.FromBatch(b)), batch, FieldSpec.Node("h", FieldType.Invariant));
        Assert.True(batching.Passed, batching.ToTable(failuresOnly: true));
    }

    [Fact]
    public void Set2SetAndPoolingArePermutationInvariantPerGraph()
    {
        torch.manual_seed(24);
        var s2s = new Set2Set(3, steps: 2).to(ScalarType.Float64);
        using var batch = Molecules(3, 8);
        var outputs = new[]
        {
            FieldSpec.Graph("set2set", FieldType.Invariant),
            FieldSpec.Graph("sum", FieldType.Invariant),
            FieldSpec.Graph("mean", FieldType.Invariant),
            FieldSpec.Graph("max", FieldType.Invariant),
        };
        var report = EquivarianceChecker.CheckPermutation(b => new Dictionary<string, Tensor>
        {
            ["set2set"] = s2s.forward(b.NodeFeatures!, b.Batch, b.NumGraphs),
            ["sum"] = GlobalPool.Sum(b.NodeFeatures!, b.Batch, b.NumGraphs),
            ["mean"] = GlobalPool.Mean(b.NodeFeatures!, b.Batch, b.NumGraphs),
            ["max"] = GlobalPool.Max(b.NodeFeatures!, b.Batch, b.NumGraphs),
        }, batch, outputs);
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
    }
}
