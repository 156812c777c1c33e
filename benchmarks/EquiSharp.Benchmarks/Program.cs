using EquiSharp.Runtime;

// Large tensors on transparent huge pages: the host re-executes itself once with the glibc tunable and
// BenchmarkDotNet's child processes inherit it (EQUISHARP_HUGEPAGES=0 measures without).
TorchRuntime.UseTransparentHugePages();
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
