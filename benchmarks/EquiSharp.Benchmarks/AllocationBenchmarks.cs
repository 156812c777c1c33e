using BenchmarkDotNet.Attributes;
using EquiSharp.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks;

/// <summary>
/// What fresh tensor memory costs on this machine: a new [100000, 128] float32 tensor (51 MB) filled
/// once, and a clone of one. Run once as is (the host re-executes itself with transparent huge pages)
/// and once with <c>EQUISHARP_HUGEPAGES=0</c> to compare 2 MB with 4 KB pages.
/// </summary>
[MemoryDiagnoser]
public class AllocationBenchmarks
{
    private Tensor source = null!;

    /// <summary>True when this process runs with glibc's huge-page tunable.</summary>
    public static bool HugePages => (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("hugetlb");

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.SetThreads(1);
        source = torch.randn(100_000, 128);
        Console.WriteLine($"// huge pages: {HugePages}");
    }

    [GlobalCleanup]
    public void Cleanup() => source.Dispose();

    [Benchmark]
    public void FreshTensorFill()
    {
        using var t = torch.empty(100_000, 128);
        t.fill_(1);
    }

    [Benchmark]
    public void Clone()
    {
        using var t = source.clone();
    }
}
