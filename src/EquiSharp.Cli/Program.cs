using System.CommandLine;
using EquiSharp.Cli.Demo;

var root = new RootCommand("equisharp: geometric and equivariant message passing neural networks on TorchSharp.")
{
    DemoCommand.Create(),
};
return root.Parse(args).Invoke();
