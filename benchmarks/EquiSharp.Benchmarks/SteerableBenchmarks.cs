using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using EquiSharp.Benchmarks.Reference;
using EquiSharp.Runtime;
using EquiSharp.Steerable;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// The steerable toolkit in float32 against e3nn's figures on this CPU (issue 4): spherical harmonics
/// lmax 3 on 1,000,000 vectors (e3nn 94 ms forward, 171 ms forward+backward); the fully connected
/// tensor product 16x0e+16x1o+16x2e ⊗ 0e+1o+2e → 16x0e+16x1o+16x2e on 100,000 rows (e3nn 226 / 766 ms);
/// a uvu tensor product 32x0e+32x1o ⊗ 0e+1o+2e → 32x0e+32x1o with per-edge weights on 100,000 edges
/// (e3nn 56 / 534 ms). Backward passes compute the gradients of every input and weight. Each tensor product
/// is timed side by side with a rebuild of e3nn's generated graph on the same libtorch
/// (<see cref="ReferenceTensorProduct"/>, the baseline of its category; methods ending in E3nnGraph).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public class SteerableBenchmarks
{
    private const long Vectors = 1_000_000, Rows = 100_000;
    private Tensor vectors = null!, vectorsGrad = null!;
    private Tensor fcX1 = null!, fcX2 = null!, fcX1Grad = null!, fcX2Grad = null!;
    private Tensor uvuX1 = null!, uvuX2 = null!, uvuW = null!, uvuX1Grad = null!, uvuX2Grad = null!, uvuWGrad = null!;
    private FullyConnectedTensorProduct fc = null!;
    private TensorProduct uvu = null!;
    private ReferenceTensorProduct fcReference = null!, uvuReference = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(Threads);
        torch.manual_seed(0);
        vectors = torch.randn(Vectors, 3);
        vectorsGrad = vectors.detach().clone().requires_grad_(true);

        Irreps features = "16x0e+16x1o+16x2e", sh = "0e+1o+2e";
        fc = new FullyConnectedTensorProduct(features, sh, features);
        fcX1 = torch.randn(Rows, features.Dim);
        fcX2 = torch.randn(Rows, sh.Dim);
        fcX1Grad = fcX1.detach().clone().requires_grad_(true);
        fcX2Grad = fcX2.detach().clone().requires_grad_(true);
        fcReference = new ReferenceTensorProduct(fc, sharedWeights: true);

        Irreps hidden = "32x0e+32x1o";
        var paths = FullyConnectedTensorProduct.Paths(hidden, sh, hidden).Select(i => i with { Mode = ConnectionMode.Uvu });
        uvu = new TensorProduct(hidden, sh, hidden, paths, internalWeights: false);
        uvuReference = new ReferenceTensorProduct(uvu, sharedWeights: false);
        uvuX1 = torch.randn(Rows, hidden.Dim);
        uvuX2 = torch.randn(Rows, sh.Dim);
        uvuW = torch.randn(Rows, uvu.WeightNumel);
        uvuX1Grad = uvuX1.detach().clone().requires_grad_(true);
        uvuX2Grad = uvuX2.detach().clone().requires_grad_(true);
        uvuWGrad = uvuW.detach().clone().requires_grad_(true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { vectors, vectorsGrad, fcX1, fcX2, fcX1Grad, fcX2Grad, uvuX1, uvuX2, uvuW, uvuX1Grad, uvuX2Grad, uvuWGrad }) t.Dispose();
        fc.Dispose();
        uvu.Dispose();
    }

    [Benchmark, BenchmarkCategory("SphericalHarmonicsForward")]
    public void SphericalHarmonicsForward()
    {
        using var s = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        SphericalHarmonics.Compute(3, vectors);
    }

    [Benchmark, BenchmarkCategory("SphericalHarmonicsForwardBackward")]
    public void SphericalHarmonicsForwardBackward()
    {
        using var s = torch.NewDisposeScope();
        SphericalHarmonics.Compute(3, vectorsGrad).sum().backward();
        vectorsGrad.grad!.zero_();
    }

    [Benchmark, BenchmarkCategory("FullyConnectedForward")]
    public void FullyConnectedForward()
    {
        using var s = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        fc.forward(fcX1, fcX2);
    }

    [Benchmark, BenchmarkCategory("FullyConnectedForwardBackward")]
    public void FullyConnectedForwardBackward()
    {
        using var s = torch.NewDisposeScope();
        fc.forward(fcX1Grad, fcX2Grad).sum().backward();
        fcX1Grad.grad!.zero_();
        fcX2Grad.grad!.zero_();
        fc.Weight!.grad!.zero_();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("FullyConnectedForward")]
    public void FullyConnectedForwardE3nnGraph()
    {
        using var s = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        fcReference.Forward(fcX1, fcX2, fc.Weight!);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("FullyConnectedForwardBackward")]
    public void FullyConnectedForwardBackwardE3nnGraph()
    {
        using var s = torch.NewDisposeScope();
        fcReference.Forward(fcX1Grad, fcX2Grad, fc.Weight!).sum().backward();
        fcX1Grad.grad!.zero_();
        fcX2Grad.grad!.zero_();
        fc.Weight!.grad!.zero_();
    }

    [Benchmark, BenchmarkCategory("UvuForward")]
    public void UvuForward()
    {
        using var s = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        uvu.forward(uvuX1, uvuX2, uvuW);
    }

    [Benchmark, BenchmarkCategory("UvuForwardBackward")]
    public void UvuForwardBackward()
    {
        using var s = torch.NewDisposeScope();
        uvu.forward(uvuX1Grad, uvuX2Grad, uvuWGrad).sum().backward();
        uvuX1Grad.grad!.zero_();
        uvuX2Grad.grad!.zero_();
        uvuWGrad.grad!.zero_();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("UvuForward")]
    public void UvuForwardE3nnGraph()
    {
        using var s = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        uvuReference.Forward(uvuX1, uvuX2, uvuW);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("UvuForwardBackward")]
    public void UvuForwardBackwardE3nnGraph()
    {
        using var s = torch.NewDisposeScope();
        uvuReference.Forward(uvuX1Grad, uvuX2Grad, uvuWGrad).sum().backward();
        uvuX1Grad.grad!.zero_();
        uvuX2Grad.grad!.zero_();
        uvuWGrad.grad!.zero_();
    }
}
