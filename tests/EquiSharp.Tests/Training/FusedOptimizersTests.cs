using EquiSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Training;

public class FusedOptimizersTests
{
    private static Sequential Model(ScalarType dtype, int seed)
    {
        torch.manual_seed(seed);
        return nn.Sequential(nn.Linear(5, 17, dtype: dtype), nn.Tanh(), nn.Linear(17, 3, dtype: dtype));
    }

    // Runs `steps` optimiser steps on a fixed regression problem, changing the learning rate as the trainer's schedules do.
    private static Tensor[] Train(Func<IEnumerable<Parameter>, torch.optim.Optimizer> make, ScalarType dtype, int steps, out torch.optim.Optimizer optimizer)
    {
        var model = Model(dtype, 3);
        optimizer = make(model.parameters());
        torch.manual_seed(11);
        var x = torch.randn(new long[] { 40, 5 }, dtype: dtype);
        var y = torch.randn(new long[] { 40, 3 }, dtype: dtype);
        for (int t = 0; t < steps; t++)
        {
            foreach (var g in optimizer.ParamGroups) g.LearningRate = 1e-2 / (1 + t);
            optimizer.zero_grad();
            using var loss = nn.functional.mse_loss(model.forward(x), y);
            loss.backward();
            optimizer.step();
        }
        return model.parameters().Select(p => p.detach().clone()).ToArray();
    }

    [Theory]
    [InlineData(false, 0.0)]
    [InlineData(false, 0.1)]
    [InlineData(true, 0.0)]
    [InlineData(true, 0.3)]
    public void MatchesTorchSharpAdamInFloat64(bool decoupled, double weightDecay)
    {
        Func<IEnumerable<Parameter>, torch.optim.Optimizer> reference = decoupled
            ? ps => new AdamW(ps, lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: weightDecay)
            : ps => new Adam(ps, lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: weightDecay);
        Func<IEnumerable<Parameter>, torch.optim.Optimizer> fused = decoupled
            ? ps => new FusedOptimizers.AdamW(ps, lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: weightDecay)
            : ps => new FusedOptimizers.Adam(ps, lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: weightDecay);
        var a = Train(reference, ScalarType.Float64, 25, out _);
        var b = Train(fused, ScalarType.Float64, 25, out _);
        for (int i = 0; i < a.Length; i++)
            Assert.True(torch.allclose(a[i], b[i], rtol: 1e-12, atol: 1e-14), $"parameter {i}: max |diff| {(a[i] - b[i]).abs().max().item<double>()}");
    }

    [Fact]
    public void MatchesTorchSharpAdamInFloat32AndSharesItsCheckpointFormat()
    {
        var a = Train(ps => new Adam(ps, lr: 1e-2, beta2: 0.999, weight_decay: 1e-3), ScalarType.Float32, 30, out var adam);
        var b = Train(ps => new FusedOptimizers.Adam(ps, lr: 1e-2, beta2: 0.999, weight_decay: 1e-3), ScalarType.Float32, 30, out var fused);
        for (int i = 0; i < a.Length; i++)
            Assert.True(torch.allclose(a[i], b[i], rtol: 1e-5, atol: 1e-6), $"parameter {i}: max |diff| {(a[i] - b[i]).abs().max().item<float>()}");
        // The fused optimiser's state loads into TorchSharp's Adam and the reverse (the Trainer's checkpoints).
        using var s1 = new MemoryStream();
        ((OptimizerHelper)fused).save_state_dict(new BinaryWriter(s1));
        using var s2 = new MemoryStream();
        ((OptimizerHelper)adam).save_state_dict(new BinaryWriter(s2));
        Assert.Equal(s2.ToArray().Length, s1.ToArray().Length);
        s1.Position = 0;
        ((OptimizerHelper)adam).load_state_dict(new BinaryReader(s1));
    }

    [Fact]
    public void AmsGradAndClosuresUseTheBaseImplementation()
    {
        var a = Train(ps => new Adam(ps, lr: 1e-2, amsgrad: true), ScalarType.Float64, 10, out _);
        var b = Train(ps => new FusedOptimizers.Adam(ps, lr: 1e-2, amsgrad: true), ScalarType.Float64, 10, out _);
        for (int i = 0; i < a.Length; i++) Assert.True(a[i].eq(b[i]).all().item<bool>());
    }

    [Fact]
    public void ParametersWithoutGradientsAreLeftAlone()
    {
        var model = Model(ScalarType.Float64, 5);
        var ps = model.parameters().ToArray();
        var opt = new FusedOptimizers.Adam(ps, lr: 0.1);
        var before = ps.Select(p => p.detach().clone()).ToArray();
        using (var loss = ps[0].sum()) loss.backward();
        opt.step();
        Assert.False(before[0].eq(ps[0].detach()).all().item<bool>());
        for (int i = 1; i < ps.Length; i++) Assert.True(before[i].eq(ps[i].detach()).all().item<bool>());
    }
}
