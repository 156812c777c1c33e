using EquiSharp.Cli;
using EquiSharp.Runtime;

// Large tensors on transparent huge pages (re-executes once with the glibc tunable; EQUISHARP_HUGEPAGES=0 turns it off).
TorchRuntime.UseTransparentHugePages();
// Training frees and reallocates the same large tensors every step: keep that memory in the process.
TorchRuntime.RetainFreedMemory();

return CliApp.Run(args);
