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

    private static bool retained;
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
