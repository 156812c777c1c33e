using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// The gate non-linearity (e3nn's Gate). The input is scalars + gates + gated (in that order): the
/// scalars go through their activations, the gates through theirs, and each copy of the gated irreps
/// (l &gt; 0 usually) is multiplied by its own gate scalar. Output: activated scalars + gated irreps.
/// Activations are normalised to unit second moment (<see cref="Activation"/>); on odd scalars they
/// must be even or odd, which sets the output parity as in e3nn.
/// </summary>
public sealed class Gate : nn.Module<Tensor, Tensor>
{
    private readonly Activation[] _actScalars, _actGates;

    /// <summary>Creates the gate; one activation per block of <paramref name="irrepsScalars"/> and of <paramref name="irrepsGates"/>.</summary>
    public Gate(Irreps irrepsScalars, IReadOnlyList<Activation> actScalars, Irreps irrepsGates, IReadOnlyList<Activation> actGates, Irreps irrepsGated)
        : base(nameof(Gate))
    {
        IrrepsScalars = irrepsScalars ?? throw new ArgumentNullException(nameof(irrepsScalars));
        IrrepsGates = irrepsGates ?? throw new ArgumentNullException(nameof(irrepsGates));
        IrrepsGated = irrepsGated ?? throw new ArgumentNullException(nameof(irrepsGated));
        ArgumentNullException.ThrowIfNull(actScalars);
        ArgumentNullException.ThrowIfNull(actGates);
        if (irrepsScalars.Any(b => b.Irrep.L != 0) || irrepsGates.Any(b => b.Irrep.L != 0))
            throw new ArgumentException($"Scalars '{irrepsScalars}' and gates '{irrepsGates}' must be l = 0 irreps.");
        if (actScalars.Count != irrepsScalars.Count)
            throw new ArgumentException($"{actScalars.Count} scalar activations for {irrepsScalars.Count} scalar blocks ('{irrepsScalars}').", nameof(actScalars));
        if (actGates.Count != irrepsGates.Count)
            throw new ArgumentException($"{actGates.Count} gate activations for {irrepsGates.Count} gate blocks ('{irrepsGates}').", nameof(actGates));
        if (irrepsGates.NumIrreps != irrepsGated.NumIrreps)
            throw new ArgumentException($"There are {irrepsGates.NumIrreps} gates ('{irrepsGates}') for {irrepsGated.NumIrreps} gated irreps ('{irrepsGated}'); they must match.");
        _actScalars = actScalars.ToArray();
        _actGates = actGates.ToArray();
        var scalarsOut = new Irreps(irrepsScalars.Select((b, i) => new MulIrrep(b.Mul, _actScalars[i].OutputIrrep(b.Irrep))));
        // The parity of each gate after its activation multiplies the parity of the irreps it gates.
        var gateParities = irrepsGates.SelectMany((b, i) => Enumerable.Repeat(_actGates[i].OutputIrrep(b.Irrep).P, b.Mul)).ToArray();
        var gatedOut = new List<MulIrrep>();
        int g = 0;
        foreach (var b in irrepsGated)
        {
            for (int c = 0; c < b.Mul; c++, g++)
                gatedOut.Add(new MulIrrep(1, new Irrep(b.Irrep.L, b.Irrep.P * gateParities[g])));
        }
        IrrepsIn = irrepsScalars + irrepsGates + irrepsGated;
        IrrepsOut = scalarsOut + new Irreps(gatedOut).Simplify();
        RegisterComponents();
    }

    /// <summary>
    /// The gate that produces <paramref name="irrepsOut"/> (0e scalars first, then the gated irreps) as
    /// SEGNN and NequIP use it: normalised SiLU on the scalars, one sigmoid gate (0e) per gated irrep.
    /// Its <see cref="IrrepsIn"/> is the scalars, the gates, then the gated irreps.
    /// </summary>
    /// <exception cref="ArgumentException">The first block is not 0e, or an activation would change a parity.</exception>
    public static Gate SwishGated(Irreps irrepsOut)
    {
        ArgumentNullException.ThrowIfNull(irrepsOut);
        if (irrepsOut.Count == 0 || !irrepsOut[0].Irrep.IsScalar)
            throw new ArgumentException($"A gated output must start with the 0e scalars, got '{irrepsOut}'.", nameof(irrepsOut));
        var gated = irrepsOut.Sub(1, irrepsOut.Count);
        var gate = new Gate(new Irreps(new[] { irrepsOut[0] }), new Activation[] { new(t => nn.functional.silu(t)) },
            new Irreps((gated.NumIrreps, new Irrep(0, 1))), new Activation[] { new(t => torch.sigmoid(t)) }, gated);
        if (gate.IrrepsOut != irrepsOut)
            throw new ArgumentException($"The gate maps to '{gate.IrrepsOut}', not to the requested '{irrepsOut}' (gated blocks of one irrep must be merged).", nameof(irrepsOut));
        return gate;
    }

    /// <summary>The scalars passed through activations.</summary>
    public Irreps IrrepsScalars { get; }

    /// <summary>The gate scalars.</summary>
    public Irreps IrrepsGates { get; }

    /// <summary>The gated irreps.</summary>
    public Irreps IrrepsGated { get; }

    /// <summary>scalars + gates + gated.</summary>
    public Irreps IrrepsIn { get; }

    /// <summary>activated scalars + gated irreps (parities from the activations).</summary>
    public Irreps IrrepsOut { get; }

    /// <summary>x [..., IrrepsIn.Dim] → [..., IrrepsOut.Dim].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var (flat, lead) = IrrepsIn.Flatten(x);
        long n = flat.shape[0];
        // One split of the input (its backward is one concatenation) instead of a narrow per block
        // (each of which would scatter its gradient into a full-size zero tensor).
        var blocks = IrrepsScalars.Concat(IrrepsGates).Concat(IrrepsGated).ToArray();
        var parts = blocks.Length == 1 ? new[] { flat } : flat.split(blocks.Select(b => (long)b.Dim).ToArray(), 1);
        var pieces = new List<Tensor>();
        int k = 0;
        for (int i = 0; i < IrrepsScalars.Count; i++, k++)
            pieces.Add(_actScalars[i].Apply(parts[k]));
        var gates = new List<Tensor>();
        for (int i = 0; i < IrrepsGates.Count; i++, k++)
            gates.Add(_actGates[i].Apply(parts[k]));
        if (IrrepsGated.Dim > 0)
        {
            var gate = gates.Count == 1 ? gates[0] : torch.cat(gates, 1); // [n, NumIrreps of gated]
            var gateParts = IrrepsGated.Count == 1 ? new[] { gate } : gate.split(IrrepsGated.Select(b => (long)b.Mul).ToArray(), 1);
            for (int i = 0; i < IrrepsGated.Count; i++, k++)
            {
                var b = IrrepsGated[i];
                if (b.Dim == 0) continue;
                var block = parts[k].view(n, b.Mul, b.Irrep.Dim);
                pieces.Add((block * gateParts[i].unsqueeze(-1)).reshape(n, b.Dim));
            }
        }
        var result = pieces.Count == 0 ? torch.zeros(new[] { n, 0L }, dtype: x.dtype, device: x.device) : torch.cat(pieces, 1);
        return result.reshape(lead.Append(IrrepsOut.Dim).ToArray()).MoveToOuterDisposeScope();
    }
}
