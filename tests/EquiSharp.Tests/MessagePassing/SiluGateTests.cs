using EquiSharp.MessagePassing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static EquiSharp.Tests.MessagePassing.FusedKernelAssertions;

namespace EquiSharp.Tests.MessagePassing;

public class SiluGateTests
{
    private static Tensor Composite(Tensor y, Tensor w, Tensor b) => WithoutFusedKernels(() => EgnnLayer.SiluGate(y, w, b));

    [Theory]
    [InlineData(ScalarType.Float64, 1, 37, 3000, 1e-12)]
    [InlineData(ScalarType.Float64, 2, 128, 5000, 1e-12)]
    [InlineData(ScalarType.Float32, 1, 128, 3000, 2e-5)]
    [InlineData(ScalarType.Float32, 2, 64, 5000, 2e-5)]
    public void ForwardAndBackwardMatchTheComposite(ScalarType dtype, int threads, long hidden, long rows, double tolerance)
    {
        WithThreads(threads, () =>
        {
            torch.manual_seed(8);
            var y = (3 * torch.randn(rows, hidden, dtype: dtype)).requires_grad_(true);
            var w = (0.3 * torch.randn(1, hidden, dtype: dtype)).requires_grad_(true);
            var b = torch.randn(1, dtype: dtype).requires_grad_(true);
            var g = torch.randn(rows, hidden, dtype: dtype);
            var expected = Composite(y, w, b);
            var eg = torch.autograd.grad(new[] { expected }, new[] { y, w, b }, new[] { g });
            var actual = EgnnLayer.SiluGate(y, w, b);
            var ag = torch.autograd.grad(new[] { actual }, new[] { y, w, b }, new[] { g });
            AssertClose(expected, actual, tolerance, "output");
            AssertClose(eg[0], ag[0], tolerance, "grad y");
            // Weight and bias gradients are sums over all rows.
            AssertClose(eg[1], ag[1], tolerance * rows, "grad W");
            AssertClose(eg[2], ag[2], tolerance * rows, "grad b");
        });
    }

    [Fact]
    public void SecondDerivativesUseTheDifferentiableComposite()
    {
        torch.manual_seed(9);
        var y = torch.randn(50, 7, dtype: ScalarType.Float64).requires_grad_(true);
        var w = torch.randn(1, 7, dtype: ScalarType.Float64).requires_grad_(true);
        var b = torch.randn(1, dtype: ScalarType.Float64).requires_grad_(true);
        var v = torch.randn(50, 7, dtype: ScalarType.Float64);
        Tensor HessianVector(Func<Tensor, Tensor, Tensor, Tensor> f)
        {
            var gy = torch.autograd.grad(new[] { f(y, w, b).sum() }, new[] { y }, retain_graph: true, create_graph: true)[0];
            return torch.autograd.grad(new[] { (gy * v).sum() }, new[] { w })[0];
        }
        AssertClose(HessianVector(Composite), HessianVector((a, c, d) => EgnnLayer.SiluGate(a, c, d)), 1e-12, "Hessian-vector product");
    }

    [Fact]
    public void MolecularEgnnGradientsAreTheSameWithAndWithoutTheKernels()
    {
        torch.manual_seed(3);
        using var model = new EquiSharp.MessagePassing.EgnnLayer(new EgnnLayerOptions(16, 16, UpdateCoordinates: false, Attention: true));
        model.to(ScalarType.Float64);
        var h = torch.randn(30, 16, dtype: ScalarType.Float64);
        var x = torch.randn(30, 3, dtype: ScalarType.Float64);
        var src = torch.randint(30, 200, dtype: ScalarType.Int64);
        var dst = (src + torch.randint(1, 30, 200, dtype: ScalarType.Int64)) % 30;
        var edges = EgnnEdges.Create(torch.stack(new[] { src, dst }), 30, ScalarType.Float64);
        AssertSameGradients(model, () =>
        {
            var (hOut, _) = model.forward(h, x, edges);
            (hOut * hOut).sum().backward();
        }, 1e-10);
    }
}
