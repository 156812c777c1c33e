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
    public void HugePages_AreLeftAloneWhenSwitchedOffOrAlreadySet()
    {
        // Neither case may re-execute the test host: both must return here.
        var tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES");
        var switchVariable = Environment.GetEnvironmentVariable(TorchRuntime.HugePagesVariable);
        try
        {
            Environment.SetEnvironmentVariable("GLIBC_TUNABLES", null);
            Environment.SetEnvironmentVariable(TorchRuntime.HugePagesVariable, "0");
            Assert.False(TorchRuntime.UseTransparentHugePages());

            Environment.SetEnvironmentVariable(TorchRuntime.HugePagesVariable, null);
            Environment.SetEnvironmentVariable("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:" + TorchRuntime.HugePagesTunable);
            Assert.Equal(OperatingSystem.IsLinux(), TorchRuntime.UseTransparentHugePages());
        }
        finally
        {
            Environment.SetEnvironmentVariable("GLIBC_TUNABLES", tunables);
            Environment.SetEnvironmentVariable(TorchRuntime.HugePagesVariable, switchVariable);
        }
    }

    [Fact]
    public void ThreadCountBelowOneIsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchRuntime.SetThreads(0));
}
