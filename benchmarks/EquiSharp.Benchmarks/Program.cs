using EquiSharp.Runtime;

// Large tensors on transparent huge pages: the host re-executes itself once with the glibc tunable and
// BenchmarkDotNet's child processes inherit it (EQUISHARP_HUGEPAGES=0 measures without).
TorchRuntime.UseTransparentHugePages();
// libtorch's OpenMP workers sleep between operations instead of spinning (inherited by the child processes, as
// the CLI does; set OMP_WAIT_POLICY yourself to measure otherwise).
TorchRuntime.UsePassiveOpenMpWaits();
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
