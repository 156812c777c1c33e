using System.Runtime.CompilerServices;
using EquiSharp.Runtime;

namespace EquiSharp.Tests;

internal static class TestSetup
{
    /// <summary>One intra-op thread for every test: tiny tensors are slower and erratic with more.</summary>
    [ModuleInitializer]
    internal static void Initialize() => TorchRuntime.SetThreads(TorchRuntime.DefaultThreads);
}
