using EquiSharp.Benchmarks.Reference;
using EquiSharp.Datasets.Molecules;
using EquiSharp.Models;
using EquiSharp.Tests.Datasets.Molecules;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Reference;

/// <summary>
/// The benchmark project's rebuild of the official EGNN-QM9 (the baseline of the EGNN-QM9 speed comparison)
/// computes the same function as <see cref="MolecularEgnn"/>, so the comparison times the same model.
/// </summary>
public class ReferenceEgnnQm9Tests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReferenceEgnnComputesTheSameFunctionAsMolecularEgnnOnPaddedMolecules(bool indexSelect)
    {
        var set = Qm9.LoadNpz(MoleculeDataTests.Fixture("qm9_fixture.npz")).SelectTarget("homo");
        int[] indices = [0, 1, 2, 3];
        Assert.True(indices.Select(set.Atoms).Distinct().Count() > 1, "the fixture's first molecules should differ in size, so that padding is exercised");
        var source = new MoleculeBatchSource(set, new MoleculeGraphOptions(AtomFeatureKind.ChargePowers, DType: ScalarType.Float64));
        using var batch = source.CreateBatch(indices);
        var dense = ReferenceEgnnQm9.FromMolecules(set, indices, ScalarType.Float64);

        torch.manual_seed(5);
        using var ours = MolecularModels.Create("egnn", new MolecularModelOptions(NodeChannels: 15, Hidden: 16, Layers: 3));
        using var reference = new ReferenceEgnnQm9(hidden: 16, layerCount: 3, indexSelect: indexSelect);
        ours.to(ScalarType.Float64);
        reference.to(ScalarType.Float64);
        var from = ours.parameters().ToArray();
        var to = reference.parameters().ToArray();
        Assert.Equal(from.Length, to.Length);
        using (torch.no_grad())
        {
            for (int i = 0; i < from.Length; i++)
            {
                Assert.Equal(from[i].shape, to[i].shape);
                to[i].copy_(from[i]);
            }
            // EquiSharp's features are power-major (p·5 + s), the reference's species-major (s·3 + p).
            var columns = torch.tensor(Enumerable.Range(0, 15).Select(k => (long)(k % 3 * 5 + k / 3)).ToArray());
            to[0].copy_(from[0].index_select(1, columns));
        }

        var expected = ours.forward(batch).view(-1);
        var actual = reference.forward(dense);
        Assert.Equal(indices.Length, actual.shape[0]);
        Assert.True(expected.abs().max().item<double>() > 1e-3, "outputs should not be trivially zero");
        Assert.True(torch.allclose(actual, expected, rtol: 1e-10, atol: 1e-12),
            $"reference {string.Join(", ", actual.data<double>().ToArray())} vs EquiSharp {string.Join(", ", expected.data<double>().ToArray())}");
    }
}
