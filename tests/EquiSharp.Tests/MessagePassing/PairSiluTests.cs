using EquiSharp.MessagePassing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static EquiSharp.Tests.MessagePassing.FusedKernelAssertions;

namespace EquiSharp.Tests.MessagePassing;

public class PairSiluTests
{
    private static (Tensor P, Tensor R, Tensor Pairs) Inputs(ScalarType dtype, long nodes, long edges, long hidden, int seed)
    {
        torch.manual_seed(seed);
        var p = (3 * torch.randn(2 * nodes, hidden, dtype: dtype)).requires_grad_(true);
        var r = (3 * torch.randn(edges, hidden, dtype: dtype)).requires_grad_(true);
        var target = torch.randint(nodes, edges, dtype: ScalarType.Int64);
        var source = torch.randint(nodes, edges, dtype: ScalarType.Int64);
        var pairs = torch.stack(new[] { 2 * target, 2 * source + 1 }, 1).reshape(-1);
        return (p, r, pairs);
    }

    private static Tensor Composite(Tensor p, Tensor r, Tensor pairs) => WithoutFusedKernels(() => EgnnLayer.PairSilu(p, r, pairs));

    [Theory]
    [InlineData(ScalarType.Float64, 1, 37, 3000, 1e-12)]   // hidden not a multiple of the vector width: tail loop
    [InlineData(ScalarType.Float64, 2, 64, 5000, 1e-12)]
    [InlineData(ScalarType.Float32, 1, 128, 3000, 2e-5)]
    [InlineData(ScalarType.Float32, 2, 64, 5000, 2e-5)]
    public void ForwardAndBackwardMatchTheComposite(ScalarType dtype, int threads, long hidden, long edges, double tolerance)
    {
        WithThreads(threads, () =>
        {
            var (p, r, pairs) = Inputs(dtype, 300, edges, hidden, 4);
            var g = torch.randn(edges, hidden, dtype: dtype);
            var expected = Composite(p, r, pairs);
            var (ep, er) = Grads(expected, g, p, r);
            var actual = EgnnLayer.PairSilu(p, r, pairs);
            var (ap, ar) = Grads(actual, g, p, r);
            AssertClose(expected, actual, tolerance, "output");
            AssertClose(ep, ap, tolerance * 10, "grad P");
            AssertClose(er, ar, tolerance, "grad R");
        });
    }

    [Fact]
    public void RepeatedParallelBackwardsGiveIdenticalGradients()
    {
        // The per-thread accumulation buffers are pooled: a reused (dirty) buffer must start from zero.
        WithThreads(2, () =>
        {
            var (p, r, pairs) = Inputs(ScalarType.Float64, 300, 5000, 64, 7);
            var g = torch.randn(5000, 64, dtype: ScalarType.Float64);
            var (first, _) = Grads(EgnnLayer.PairSilu(p, r, pairs), g, p, r);
            for (int i = 0; i < 3; i++)
            {
                var (again, _) = Grads(EgnnLayer.PairSilu(p, r, pairs), g, p, r);
                Assert.True(first.equal(again).all().item<bool>(), $"backward {i + 2} differs from the first");
            }
        });
    }

    private static (Tensor, Tensor) Grads(Tensor y, Tensor g, Tensor p, Tensor r)
    {
        var grads = torch.autograd.grad(new[] { y }, new[] { p, r }, new[] { g });
        return (grads[0], grads[1]);
    }

    [Fact]
    public void SecondDerivativesUseTheDifferentiableComposite()
    {
        var (p, r, pairs) = Inputs(ScalarType.Float64, 20, 150, 9, 5);
        // d/dR of (dy/dR · v) needs the backward of the backward (create_graph), as force training does.
        var v = torch.randn(150, 9, dtype: ScalarType.Float64);
        Tensor HessianVector(Func<Tensor, Tensor, Tensor, Tensor> f)
        {
            var y = f(p, r, pairs).sum();
            var gr = torch.autograd.grad(new[] { y }, new[] { r }, retain_graph: true, create_graph: true)[0];
            return torch.autograd.grad(new[] { (gr * v).sum() }, new[] { r })[0];
        }
        AssertClose(HessianVector(Composite), HessianVector(EgnnLayer.PairSilu), 1e-12, "Hessian-vector product");
    }

    [Fact]
    public void OutOfRangePairsAreRejected()
    {
        var (p, r, pairs) = Inputs(ScalarType.Float32, 10, 40, 8, 6);
        var bad = pairs.clone();
        bad[7] = torch.tensor(20L);
        var e = Assert.Throws<ArgumentException>(() => EgnnLayer.PairSilu(p, r, bad));
        Assert.Contains("position 7", e.Message);
    }

    [Fact]
    public void EgnnModelsGiveTheSameLossAndGradientsWithAndWithoutTheKernel()
    {
        torch.manual_seed(2);
        var data = EquiSharp.Datasets.NBody.NBodyDataset.Generate(3, new EquiSharp.Datasets.NBody.NBodySplitSizes(12, 0, 0),
            new EquiSharp.Datasets.NBody.NBodySimulationOptions(Steps: 4101));
        var batch = data.CreateBatch(EquiSharp.Datasets.NBody.NBodySplit.Train, Enumerable.Range(0, 12).ToArray(), dtype: ScalarType.Float64);
        using var model = new EquiSharp.Models.NBodyEgnn();
        model.to(ScalarType.Float64);
        AssertSameGradients(model, () => nn.functional.mse_loss(model.forward(batch), batch.NodeTarget!).backward(), 1e-10);
    }
}
