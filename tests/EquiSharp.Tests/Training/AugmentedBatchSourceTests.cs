using EquiSharp.Datasets.NBody;
using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.Training;
using EquiSharp.Tests.MessagePassing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Training;

public class AugmentedBatchSourceTests
{
    private static readonly Lazy<NBodyDataset> Data = new(() =>
        NBodyDataset.Generate(5, new NBodySplitSizes(4, 0, 0), new NBodySimulationOptions(Steps: 4101)));

    private static readonly InputFieldTypes NBodyFields = new() { NodeTarget = FieldType.Position };

    private static GraphBatch Batch() => Data.Value.CreateBatch(NBodySplit.Train, new[] { 0, 1, 2, 3 }, dtype: ScalarType.Float64);

    /// <summary>R with x' = x Rᵀ for the nodes of graph g (least squares on its 5 positions, exact for a rotation).</summary>
    private static Tensor RecoverRotation(Tensor x, Tensor rotated) => torch.linalg.lstsq(x, rotated).Solution.t();

    [Fact]
    public void PerGraphRotationRotatesEachSystemRigidlyWithItsOwnRotation()
    {
        using var batch = Batch();
        batch.EdgeAttributes!.Dispose();
        var src = batch.EdgeIndex[0];
        var dst = batch.EdgeIndex[1];
        // Edge vectors typed as vectors, velocities repeated as a representation field (the graph-by-graph path).
        using var input = batch with
        {
            EdgeAttributes = batch.Positions.index_select(0, src) - batch.Positions.index_select(0, dst),
            NodeAttributes = batch.NodeVectors!.view(-1, 3).clone(),
        };
        var fields = NBodyFields with { EdgeAttributes = FieldType.Vector, NodeAttributes = FieldType.Representation("copy of R", r => r) };
        torch.manual_seed(3);
        using var rotated = AugmentedBatchSource.RandomRotationPerGraph(fields)(input);

        var rotations = new List<Tensor>();
        for (int g = 0; g < batch.NumGraphs; g++)
        {
            long start = g * 5;
            var r = RecoverRotation(input.Positions.narrow(0, start, 5), rotated.Positions.narrow(0, start, 5));
            Assert.True(E3.MaxAbs(r.matmul(r.t()) - torch.eye(3, dtype: ScalarType.Float64)) < 1e-10, "orthogonal");
            Assert.Equal(1.0, torch.linalg.det(r).ToDouble(), 10);
            Assert.True(E3.MaxAbs(rotated.NodeVectors!.narrow(0, start, 5) - input.NodeVectors!.narrow(0, start, 5).matmul(r.t())) < 1e-10);
            Assert.True(E3.MaxAbs(rotated.NodeTarget!.narrow(0, start, 5) - input.NodeTarget!.narrow(0, start, 5).matmul(r.t())) < 1e-10);
            Assert.True(E3.MaxAbs(rotated.NodeAttributes!.narrow(0, start, 5) - input.NodeAttributes!.narrow(0, start, 5).matmul(r.t())) < 1e-10);
            rotations.Add(r);
        }
        for (int g = 1; g < rotations.Count; g++) Assert.True(E3.MaxAbs(rotations[g] - rotations[0]) > 1e-3, "each system has its own rotation");

        var edges = rotated.Positions.index_select(0, src) - rotated.Positions.index_select(0, dst);
        Assert.True(E3.MaxAbs(rotated.EdgeAttributes! - edges) < 1e-10);
        Assert.Equal(0.0, E3.MaxAbs(rotated.NodeFeatures! - input.NodeFeatures!));
        Assert.True(rotated.EdgeIndex.eq(input.EdgeIndex).all().item<bool>());

        torch.manual_seed(3);
        using var again = AugmentedBatchSource.RandomRotationPerGraph(fields)(input);
        Assert.Equal(0.0, E3.MaxAbs(again.Positions - rotated.Positions)); // drawn from the global generator: re-seeding repeats it
    }

    [Fact]
    public void PerGraphRotationOutlivesTheSourceBatchAndRejectsMismatchedFields()
    {
        var source = new AugmentedBatchSource(new DelegateBatchSource(4, i => Data.Value.CreateBatch(NBodySplit.Train, i)),
            AugmentedBatchSource.RandomRotationPerGraph(NBodyFields));
        using var batch = source.CreateBatch(new[] { 0, 2 });
        Assert.Equal(new long[] { 10, 3 }, batch.Positions.shape);
        Assert.True(double.IsFinite(batch.NodeTarget!.sum().ToDouble())); // the inner batch is disposed; these are new tensors

        using var b = Batch();
        using var bad = b with { NodeAttributes = torch.zeros(10, 2, dtype: ScalarType.Float64) };
        var e = Assert.Throws<ArgumentException>(() => AugmentedBatchSource.RandomRotationPerGraph(NBodyFields with { NodeAttributes = FieldType.Vector })(bad));
        Assert.Contains("NodeAttributes", e.Message);
    }
}
