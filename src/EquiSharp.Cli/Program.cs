using EquiSharp.Cli;

return CliApp.Run(args);
