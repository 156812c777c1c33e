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

    [Fact]
    public void PassiveOpenMpWaits_AreSetOnceAndNeverOverrideTheCaller()
    {
        var saved = Environment.GetEnvironmentVariable(TorchRuntime.OpenMpWaitPolicyVariable);
        try
        {
            Environment.SetEnvironmentVariable(TorchRuntime.OpenMpWaitPolicyVariable, "ACTIVE");
            Assert.False(TorchRuntime.UsePassiveOpenMpWaits());
            Assert.Equal("ACTIVE", Environment.GetEnvironmentVariable(TorchRuntime.OpenMpWaitPolicyVariable));

            Environment.SetEnvironmentVariable(TorchRuntime.OpenMpWaitPolicyVariable, " passive ");
            Assert.Equal(OperatingSystem.IsLinux(), TorchRuntime.UsePassiveOpenMpWaits());

            Environment.SetEnvironmentVariable(TorchRuntime.OpenMpWaitPolicyVariable, null);
            bool applied = TorchRuntime.UsePassiveOpenMpWaits();
            Assert.Equal(OperatingSystem.IsLinux(), applied);
            if (applied)
            {
                Assert.Equal("PASSIVE", Environment.GetEnvironmentVariable(TorchRuntime.OpenMpWaitPolicyVariable));
                // The native environment, which libgomp reads, holds it too (.NET keeps a separate copy).
                Assert.Equal("PASSIVE", System.Runtime.InteropServices.Marshal.PtrToStringUTF8(getenv(TorchRuntime.OpenMpWaitPolicyVariable)));
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(TorchRuntime.OpenMpWaitPolicyVariable, saved);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr getenv([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string name);
}
