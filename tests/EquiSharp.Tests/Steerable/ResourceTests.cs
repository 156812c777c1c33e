using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Steerable;

public class ResourceTests
{
    [Fact]
    public void ForwardAndBackward_LeakNoTensors()
    {
        var gen = new Generator(71);
        Irreps a = "4x0e+2x1o+1x2e", sh = "0e+1o+2e";
        using var tp = new FullyConnectedTensorProduct(a, sh, a);
        using var uvu = new TensorProduct(a, sh, a,
            FullyConnectedTensorProduct.Paths(a, sh, a).Where(p => a[p.In1].Mul == a[p.Out].Mul).Select(p => p with { Mode = ConnectionMode.Uvu }), internalWeights: false);
        using var gate = new Gate("4x0e", new Activation[] { new(x => x.tanh()) }, "3x0e", new Activation[] { new(x => x.sigmoid()) }, "2x1o+1x2e");
        using var lin = new EquivariantLinear(a, gate.IrrepsIn, biases: true);
        using var ln = new EquivariantLayerNorm(a);
        using var rbf = new BesselBasis(4, 3.0);
        void Step()
        {
            using var scope = torch.NewDisposeScope();
            var v = torch.randn(new long[] { 7, 3 }, generator: gen).requires_grad_(true);
            var y = SphericalHarmonics.Compute(2, v);
            var h = torch.randn(new long[] { 7, a.Dim }, generator: gen);
            var w = rbf.forward(v.norm(1)).sum(1, keepdim: true).expand(7, uvu.WeightNumel);
            var out1 = gate.forward(lin.forward(ln.forward(tp.forward(h, y) + uvu.forward(h, y, w))));
            var n = new IrrepsNorm(gate.IrrepsOut).forward(out1);
            n.sum().backward();
        }
        Step(); // caches (3j kernels, Wigner bases) are filled once
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++) Step();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void ForceTraining_DoubleBackward_ThroughHarmonicsAndTensorProduct()
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(72);
        Irreps sh = "0e+1o+2e", hidden = "4x0e+2x1o+2x2e";
        var tp = new FullyConnectedTensorProduct(sh, sh, hidden).to(ScalarType.Float64);
        var pos = torch.randn(new long[] { 5, 3 }, dtype: ScalarType.Float64).requires_grad_(true);
        var rel = pos.unsqueeze(0) - pos.unsqueeze(1) + torch.eye(3, dtype: ScalarType.Float64)[0] * 1e-3; // avoid exact zeros
        var y = SphericalHarmonics.Compute(2, rel.reshape(-1, 3), normalize: false);
        var energy = tp.forward(y, y).pow(2).sum();
        var forces = torch.autograd.grad(new[] { energy }, new[] { pos }, retain_graph: true, create_graph: true)[0];
        forces.pow(2).sum().backward();
        Assert.NotNull(tp.Weight!.grad);
        Assert.True(tp.Weight!.grad!.abs().sum().item<double>() > 0);
    }
}
