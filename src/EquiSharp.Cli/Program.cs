using EquiSharp.Cli;
using EquiSharp.Runtime;

// Training frees and reallocates the same large tensors every step: keep that memory in the process.
TorchRuntime.RetainFreedMemory();

return CliApp.Run(args);
