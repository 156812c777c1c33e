using TorchSharp;
using Xunit;

namespace EquiSharp.Tests.Runtime;

public class NativeLoadTests
{
    private static string OutputDir => AppContext.BaseDirectory;

    [Fact]
    public void LibTorchLoadsFromTheOutputFolderNotTheConsolidatedFallback()
    {
        // TorchSharp falls back to copying natives into bin/.../cpu when the regular load fails
        // (e.g. when the GLIBCXX patch is missing); that path must never be taken.
        using var t = torch.ones(3);
        Assert.Equal(3f, t.sum().item<float>());
        Assert.False(Directory.Exists(Path.Combine(OutputDir, "cpu")),
            $"TorchSharp consolidated native binaries into {Path.Combine(OutputDir, "cpu")}: the regular load of libLibTorchSharp.so failed.");
        if (OperatingSystem.IsLinux())
        {
            var maps = File.ReadAllLines("/proc/self/maps");
            var shim = maps.Where(l => l.EndsWith("/libLibTorchSharp.so")).Select(l => l[(l.IndexOf('/'))..]).Distinct().ToArray();
            Assert.Single(shim);
            Assert.StartsWith(OutputDir.TrimEnd('/'), shim[0]);
            Assert.DoesNotContain(".nuget", shim[0]);
        }
    }

    [Fact]
    public void OutputCopyHasWeakGlibcxxRequirementAndNuGetCacheIsUntouched()
    {
        if (!OperatingSystem.IsLinux()) return;
        var shim = Directory.GetFiles(OutputDir, "libLibTorchSharp.so", SearchOption.AllDirectories).Single();
        Assert.Equal(0x2, ElfVersionFlags(shim, "GLIBCXX_3.4.32") & 0x2);
        var home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var cached = Path.Combine(home, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (File.Exists(cached))
            Assert.Equal(0, ElfVersionFlags(cached, "GLIBCXX_3.4.32") & 0x2);
    }

    [Fact]
    public void ThreadCountIsOne() => Assert.Equal(1, torch.get_num_threads());

    /// <summary>vna_flags of the named version requirement in .gnu.version_r, or -1 when absent.</summary>
    private static int ElfVersionFlags(string path, string version)
    {
        var b = File.ReadAllBytes(path);
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            int sh = (int)(shoff + s * shentsize);
            if (BitConverter.ToUInt32(b, sh + 4) != 0x6ffffffe) continue;
            int off = (int)BitConverter.ToInt64(b, sh + 0x18);
            int link = BitConverter.ToInt32(b, sh + 0x28), count = BitConverter.ToInt32(b, sh + 0x2C);
            int str = (int)BitConverter.ToInt64(b, (int)(shoff + link * shentsize) + 0x18);
            int need = off;
            for (int n = 0; n < count; n++)
            {
                int aux = need + BitConverter.ToInt32(b, need + 8);
                for (int a = 0; a < BitConverter.ToUInt16(b, need + 2); a++)
                {
                    int name = str + BitConverter.ToInt32(b, aux + 8);
                    int end = Array.IndexOf(b, (byte)0, name);
                    if (System.Text.Encoding.ASCII.GetString(b, name, end - name) == version)
                        return BitConverter.ToUInt16(b, aux + 4);
                    aux += BitConverter.ToInt32(b, aux + 12);
                }
                need += BitConverter.ToInt32(b, need + 12);
            }
        }
        return -1;
    }
}
