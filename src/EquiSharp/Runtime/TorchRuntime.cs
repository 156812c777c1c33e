using System.Runtime.InteropServices;
using TorchSharp;

namespace EquiSharp.Runtime;

/// <summary>
/// Process-wide libtorch settings. Small graphs are dominated by per-operation overhead, where
/// intra-op threading costs more than it gains (10–100x slower, erratic timings on 2 cores), so
/// EquiSharp's tools default to one thread; callers with large tensors may raise it.
/// </summary>
public static class TorchRuntime
{
    /// <summary>Default intra-op thread count used by the CLI, tests and benchmarks.</summary>
    public const int DefaultThreads = 1;

    /// <summary>Sets libtorch's intra-op thread count.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="threads"/> is below 1.</exception>
    public static void SetThreads(int threads)
    {
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "The thread count must be at least 1.");
        torch.set_num_threads(threads);
    }

    /// <summary>Current intra-op thread count.</summary>
    public static int Threads => torch.get_num_threads();

    /// <summary>
    /// Tells glibc's allocator (which libtorch's CPU tensors use) to keep freed memory for reuse instead
    /// of returning it to the kernel: blocks up to 32 MB come from the heap rather than from fresh
    /// <c>mmap</c> calls, and the heap is not trimmed. Training allocates and frees the same large
    /// intermediates every step; with glibc's defaults each of them is new memory that the kernel must
    /// zero page by page (page faults), which cost about 10% of an EGNN-QM9 training step here. The price
    /// is that the process keeps its peak heap size. Process-wide and idempotent; call it once at start-up.
    /// </summary>
    /// <returns>True when the settings were applied (Linux with glibc), false elsewhere (no effect).</returns>
    public static bool RetainFreedMemory()
    {
        if (retained) return true;
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            // mallopt returns 1 on success. 32 MB is glibc's largest mmap threshold on 64-bit systems.
            retained = mallopt(MmapThreshold, 32 << 20) == 1
                       & mallopt(TrimThreshold, 1 << 30) == 1
                       & mallopt(TopPad, 64 << 20) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc (e.g. musl)
        }
        return retained;
    }

    /// <summary>The OpenMP variable <see cref="UsePassiveOpenMpWaits"/> sets.</summary>
    public const string OpenMpWaitPolicyVariable = "OMP_WAIT_POLICY";

    /// <summary>
    /// Makes libtorch's OpenMP worker threads sleep as soon as a parallel region ends instead of
    /// spinning (<c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment). With more than one libtorch
    /// thread, libgomp's default keeps the workers spinning for a while after every operation; on a
    /// small machine they then take cores from the code that runs between libtorch operations,
    /// including EquiSharp's own parallel kernels (21% of the samples of a two-thread EGNN-QM9
    /// training step were libgomp spinning; docs/benchmarks.md). libgomp reads the variable once,
    /// when libtorch is loaded, so call this before the first tensor operation (the CLI and the
    /// benchmark project do it at start-up). It leaves an <c>OMP_WAIT_POLICY</c> that is already set
    /// alone. With one libtorch thread (the default) there are no workers and it changes nothing.
    /// </summary>
    /// <returns>True when the policy is PASSIVE for libtorch loaded after this call (set here or by the caller's environment).</returns>
    public static bool UsePassiveOpenMpWaits()
    {
        if (!OperatingSystem.IsLinux()) return false;
        var current = Environment.GetEnvironmentVariable(OpenMpWaitPolicyVariable);
        if (current is not null) return string.Equals(current.Trim(), "PASSIVE", StringComparison.OrdinalIgnoreCase);
        try
        {
            // .NET keeps its own copy of the environment; libgomp reads the native one.
            if (setenv(OpenMpWaitPolicyVariable, "PASSIVE", 1) != 0) return false;
            Environment.SetEnvironmentVariable(OpenMpWaitPolicyVariable, "PASSIVE");
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The environment variable that turns <see cref="UseTransparentHugePages"/> off when set to 0.</summary>
    public const string HugePagesVariable = "EQUISHARP_HUGEPAGES";

    /// <summary>The glibc tunable that makes malloc back its memory with transparent huge pages.</summary>
    public const string HugePagesTunable = "glibc.malloc.hugetlb=1";

    /// <summary>
    /// Makes glibc's malloc (which libtorch's CPU tensors use) ask for transparent huge pages, by
    /// re-executing the current process once with <c>GLIBC_TUNABLES=glibc.malloc.hugetlb=1</c> (the
    /// tunable is read only at start-up). Each large tensor's memory is then faulted in 2 MB at a
    /// time instead of 4 KB, which makes fresh large tensors several times cheaper on machines where
    /// page faults are expensive (docs/benchmarks.md, "Fresh memory"). Call it first thing in <c>Main</c>,
    /// before any output: on success it does not return (the process starts again with the same
    /// command line and the tunable set). It returns without re-executing when the tunable is
    /// already set, when <see cref="HugePagesVariable"/> is 0, on other systems than Linux, when the
    /// kernel's transparent huge pages are off, or when the re-execution fails.
    /// </summary>
    /// <returns>True when the tunable is in effect for this process.</returns>
    public static bool UseTransparentHugePages()
    {
        if (!OperatingSystem.IsLinux()) return false;
        var tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "";
        if (tunables.Contains("glibc.malloc.hugetlb", StringComparison.Ordinal)) return true;
        if (Environment.GetEnvironmentVariable(HugePagesVariable) == "0") return false;
        try
        {
            const string mode = "/sys/kernel/mm/transparent_hugepage/enabled";
            if (!File.Exists(mode) || File.ReadAllText(mode).Contains("[never]", StringComparison.Ordinal)) return false;
            var argv = File.ReadAllText("/proc/self/cmdline").Split('\0', StringSplitOptions.None);
            if (argv.Length > 0 && argv[^1].Length == 0) argv = argv[..^1];
            if (argv.Length == 0) return false;
            var env = new List<string?>();
            foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
                if ((string)e.Key != "GLIBC_TUNABLES") env.Add($"{e.Key}={e.Value}");
            env.Add("GLIBC_TUNABLES=" + (tunables.Length > 0 ? tunables + ":" : "") + HugePagesTunable);
            env.Add(null);
            execve("/proc/self/exe", argv.Append(null).ToArray(), env.ToArray());
            return false; // execve returns only on failure
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException or MarshalDirectiveException)
        {
            return false; // best effort: the process simply runs without huge pages
        }
    }

    [DllImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static extern int execve([MarshalAs(UnmanagedType.LPUTF8Str)] string path,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] argv,
        [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string?[] envp);

    private static bool retained;
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
