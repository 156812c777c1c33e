using EquiSharp.Runtime;
using TorchSharp;
using Xunit;

namespace EquiSharp.Tests.Runtime;

public class TorchRuntimeTests
{
    [Fact]
    public void RetainFreedMemoryIsAppliedOnLinuxAndIdempotent()
    {
        bool first = TorchRuntime.RetainFreedMemory();
        Assert.Equal(OperatingSystem.IsLinux(), first); // every mallopt call must be accepted by glibc
        Assert.Equal(first, TorchRuntime.RetainFreedMemory());
        // Tensors still allocate and free normally afterwards (a large one, above the old mmap threshold).
        using var big = torch.ones(8 << 20, dtype: torch.float32);
        Assert.Equal(8 << 20, big.sum().item<float>());
    }

    [Fact]
    public void ThreadCountBelowOneIsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchRuntime.SetThreads(0));
}
