using EquiSharp.Cli;
using EquiSharp.Runtime;

// Large tensors on transparent huge pages (re-executes once with the glibc tunable; EQUISHARP_HUGEPAGES=0 turns it off).
TorchRuntime.UseTransparentHugePages();
// With --threads above 1, libtorch's OpenMP workers sleep between operations instead of spinning (before libtorch loads).
TorchRuntime.UsePassiveOpenMpWaits();
// Training frees and reallocates the same large tensors every step: keep that memory in the process.
TorchRuntime.RetainFreedMemory();

return CliApp.Run(args);
