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
}
