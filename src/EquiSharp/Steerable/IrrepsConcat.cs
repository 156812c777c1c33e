using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Concatenates irreps-typed tensors and regroups the blocks by irrep, so that e.g. [x_i, x_j, extras]
/// with irreps 32x0e+32x1o, 32x0e+32x1o, 2x0e becomes one tensor with irreps 66x0e+64x1o. A tensor
/// product of the regrouped input has fewer, larger paths than one of the plain concatenation (one
/// matrix product per irrep instead of one per block) and spans the same maps.
/// </summary>
public sealed class IrrepsConcat
{
    private readonly long[]? _columns;
    private readonly Dictionary<(DeviceType, int), Tensor> _index = new();
    private readonly object _lock = new();

    /// <summary>Plans the concatenation of inputs with the given irreps.</summary>
    public IrrepsConcat(params Irreps[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        Inputs = inputs.ToArray();
        var all = new Irreps(inputs.SelectMany(i => i));
        var (sorted, _, inverse) = all.Sort();
        IrrepsOut = sorted.Simplify();
        var columns = new List<long>();
        foreach (int b in inverse)
        {
            var (start, end) = all.Slice(b);
            for (int c = start; c < end; c++) columns.Add(c);
        }
        if (!columns.Select((c, k) => c == k).All(x => x)) _columns = columns.ToArray();

        // Where each output block's channels come from: the sort is stable and Simplify merges runs of one irrep.
        var origin = new List<(int Input, int Block)>();
        for (int k = 0; k < Inputs.Count; k++)
            for (int b = 0; b < Inputs[k].Count; b++) origin.Add((k, b));
        var segments = new List<List<ConcatSegment>>();
        Irrep? current = null;
        int channel = 0;
        foreach (int b in inverse)
        {
            var block = all[b];
            if (block.Mul == 0) continue;
            if (current != block.Irrep)
            {
                segments.Add([]);
                current = block.Irrep;
                channel = 0;
            }
            segments[^1].Add(new ConcatSegment(origin[b].Input, origin[b].Block, block.Mul, channel));
            channel += block.Mul;
        }
        Segments = segments;
    }

    /// <summary>
    /// For each block of <see cref="IrrepsOut"/>, the input blocks its channels come from, in channel order
    /// (a block of the output is a run of equal irreps from one or more inputs).
    /// </summary>
    public IReadOnlyList<IReadOnlyList<ConcatSegment>> Segments { get; }

    /// <summary>Irreps of the inputs, in order.</summary>
    public IReadOnlyList<Irreps> Inputs { get; }

    /// <summary>Irreps of the result (sorted by irrep, consecutive equal irreps merged).</summary>
    public Irreps IrrepsOut { get; }

    /// <summary>The inputs [rows, Inputs[k].Dim] (null only for an input of dimension 0) → [rows, IrrepsOut.Dim].</summary>
    public Tensor Apply(params Tensor?[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length != Inputs.Count)
            throw new ArgumentException($"Expected {Inputs.Count} inputs, got {inputs.Length}.", nameof(inputs));
        var parts = new List<Tensor>();
        for (int k = 0; k < inputs.Length; k++)
        {
            var t = inputs[k];
            if (t is null)
            {
                if (Inputs[k].Dim != 0) throw new ArgumentException($"Input {k} ('{Inputs[k]}') is missing.", nameof(inputs));
                continue;
            }
            if (t.dim() != 2 || t.shape[1] != Inputs[k].Dim)
                throw new ArgumentException($"Input {k} has shape [{string.Join(", ", t.shape)}]; expected [rows, {Inputs[k].Dim}] ('{Inputs[k]}').", nameof(inputs));
            parts.Add(t);
        }
        var cat = parts.Count == 1 ? parts[0] : torch.cat(parts, 1);
        return _columns is null ? cat : cat.index_select(1, Index(cat.device));
    }

    private Tensor Index(Device device)
    {
        var key = (device.type, device.index);
        lock (_lock)
        {
            if (!_index.TryGetValue(key, out var index))
            {
                index = torch.tensor(_columns!, device: device).DetachFromDisposeScope();
                _index[key] = index;
            }
            return index;
        }
    }
}
