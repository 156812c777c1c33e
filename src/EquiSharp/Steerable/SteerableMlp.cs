using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// A steerable MLP: <see cref="SteerableLinear"/> layers that all condition on the same steerable
/// attribute, each followed by the gate non-linearity except (optionally) the last. SEGNN's message
/// and update networks are two-layer steerable MLPs (messages: both gated; updates: the last linear).
/// </summary>
public sealed class SteerableMlp : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly ModuleList<SteerableLinear> layers;

    /// <summary>Creates the MLP.</summary>
    /// <param name="irrepsIn">Input irreps.</param>
    /// <param name="irrepsLayers">Output irreps of each layer (the last is the MLP's output); gated layers need 0e scalars first.</param>
    /// <param name="irrepsAttr">Irreps of the attribute every layer conditions on.</param>
    /// <param name="gateLast">Gate the last layer too (hidden layers are always gated).</param>
    public SteerableMlp(Irreps irrepsIn, IReadOnlyList<Irreps> irrepsLayers, Irreps irrepsAttr, bool gateLast = true) : base(nameof(SteerableMlp))
    {
        ArgumentNullException.ThrowIfNull(irrepsLayers);
        if (irrepsLayers.Count == 0) throw new ArgumentException("A steerable MLP needs at least one layer.", nameof(irrepsLayers));
        var list = new SteerableLinear[irrepsLayers.Count];
        var current = irrepsIn ?? throw new ArgumentNullException(nameof(irrepsIn));
        for (int k = 0; k < list.Length; k++)
        {
            list[k] = new SteerableLinear(current, irrepsLayers[k], irrepsAttr, gated: k < list.Length - 1 || gateLast);
            current = irrepsLayers[k];
        }
        layers = nn.ModuleList(list);
        IrrepsIn = irrepsIn;
        IrrepsOut = current;
        IrrepsAttr = irrepsAttr;
        RegisterComponents();
    }

    /// <summary>Input irreps.</summary>
    public Irreps IrrepsIn { get; }

    /// <summary>Output irreps.</summary>
    public Irreps IrrepsOut { get; }

    /// <summary>Attribute irreps.</summary>
    public Irreps IrrepsAttr { get; }

    /// <summary>The layers.</summary>
    public IReadOnlyList<SteerableLinear> Layers => layers.ToArray();

    /// <summary>x [..., IrrepsIn.Dim] conditioned on a [..., IrrepsAttr.Dim] → [..., IrrepsOut.Dim].</summary>
    public override Tensor forward(Tensor x, Tensor attr)
    {
        using var scope = torch.NewDisposeScope();
        var y = x;
        foreach (var layer in layers) y = layer.forward(y, attr);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same as <c>forward(concat.Apply(nodes[target], nodes[source], edgeInputs), attr)</c>, with the first layer's
    /// weights applied per node before the gather (<see cref="SteerableLinear.ForwardGathered"/>).
    /// </summary>
    internal Tensor ForwardGathered(IrrepsConcat concat, Tensor nodes, Tensor target, Tensor source, Tensor? edgeInputs, Tensor attr)
    {
        using var scope = torch.NewDisposeScope();
        var all = layers.ToArray();
        var y = all[0].ForwardGathered(concat, nodes, target, source, edgeInputs, attr);
        for (int k = 1; k < all.Length; k++) y = all[k].forward(y, attr);
        return y.MoveToOuterDisposeScope();
    }
}
