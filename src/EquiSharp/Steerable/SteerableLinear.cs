using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// The steerable linear layer of SEGNN (Brandstetter et al. 2022, their O3TensorProduct): a fully
/// connected tensor product of the features x [..., IrrepsIn.Dim] with a steerable attribute a
/// [..., IrrepsAttr.Dim] (e.g. spherical harmonics of a relative position), so the linear map is
/// conditioned on geometry, plus a learnable bias on every 0e output. With <c>gated</c> the product
/// feeds a <see cref="Gate"/> (normalised SiLU on the scalars, sigmoid gates on the rest), which makes
/// it one layer of a steerable MLP (<see cref="SteerableMlp"/>).
/// </summary>
/// <remarks>
/// Initialised as the reference code does: the weights of the paths into an output block are
/// uniform in ±1/sqrt(fan-in) (fan-in: Σ mul1·mul2 over those paths) and the block is multiplied
/// back by sqrt(fan-in), so at initialisation the effective weights are uniform in ±1 under e3nn's
/// normalisation, while the optimiser sees torch.nn.Linear-sized parameters. The rescaling is folded
/// into the paths' 3j coefficients (path weight = fan-in): no extra operation. Biases are uniform in
/// ±1/sqrt(fan-in) as well.
/// </remarks>
public sealed class SteerableLinear : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly TensorProduct product;
    private readonly Gate? gate;
    private readonly Parameter? bias;
    private readonly (int Offset, int Length)[] _biasSlices;

    /// <summary>Creates the layer.</summary>
    /// <param name="irrepsIn">Irreps of the features.</param>
    /// <param name="irrepsOut">Irreps of the output (after the gate when <paramref name="gated"/>). Gated: the first block must be the scalars (0e), the rest is gated.</param>
    /// <param name="irrepsAttr">Irreps of the steerable attribute.</param>
    /// <param name="gated">Follow the product by the gate non-linearity.</param>
    public SteerableLinear(Irreps irrepsIn, Irreps irrepsOut, Irreps irrepsAttr, bool gated = false) : base(nameof(SteerableLinear))
    {
        IrrepsIn = irrepsIn ?? throw new ArgumentNullException(nameof(irrepsIn));
        IrrepsOut = irrepsOut ?? throw new ArgumentNullException(nameof(irrepsOut));
        IrrepsAttr = irrepsAttr ?? throw new ArgumentNullException(nameof(irrepsAttr));
        Irreps productOut = irrepsOut;
        if (gated)
        {
            gate = Gate.SwishGated(irrepsOut);
            productOut = gate.IrrepsIn.Simplify();
        }
        var paths = FullyConnectedTensorProduct.Paths(irrepsIn, irrepsAttr, productOut).ToArray();
        if (paths.Length == 0)
            throw new ArgumentException($"No path couples '{irrepsIn}' and '{irrepsAttr}' into '{productOut}'.");
        var fanIn = new double[productOut.Count];
        foreach (var p in paths) fanIn[p.Out] += irrepsIn[p.In1].Mul * irrepsAttr[p.In2].Mul;
        product = new TensorProduct(irrepsIn, irrepsAttr, productOut, paths.Select(p => p with { PathWeight = fanIn[p.Out] }));
        using (torch.no_grad())
        {
            long offset = 0;
            foreach (var p in paths)
            {
                long numel = p.WeightShape(irrepsIn[p.In1].Mul, irrepsAttr[p.In2].Mul, productOut[p.Out].Mul).Aggregate(1L, (a, b) => a * b);
                double bound = 1 / Math.Sqrt(fanIn[p.Out]);
                product.Weight!.narrow(0, offset, numel).uniform_(-bound, bound);
                offset += numel;
            }
        }
        var slices = new List<(int, int)>();
        var bounds = new List<double>();
        for (int o = 0; o < productOut.Count; o++)
        {
            if (!productOut[o].Irrep.IsScalar || productOut[o].Mul == 0) continue;
            slices.Add((productOut.Offsets[o], productOut[o].Mul));
            bounds.Add(fanIn[o] > 0 ? 1 / Math.Sqrt(fanIn[o]) : 0);
        }
        _biasSlices = slices.ToArray();
        if (slices.Count > 0)
        {
            var b = torch.cat(slices.Select((s, k) => torch.empty(s.Item2).uniform_(-bounds[k], bounds[k])).ToArray());
            bias = new Parameter(b);
        }
        ProductIrrepsOut = productOut;
        RegisterComponents();
    }

    /// <summary>Irreps of the features.</summary>
    public Irreps IrrepsIn { get; }

    /// <summary>Irreps of the output.</summary>
    public Irreps IrrepsOut { get; }

    /// <summary>Irreps of the attribute.</summary>
    public Irreps IrrepsAttr { get; }

    /// <summary>Irreps the tensor product produces (the gate's input when gated).</summary>
    public Irreps ProductIrrepsOut { get; }

    /// <summary>The tensor product (its weights are the layer's weights).</summary>
    public TensorProduct Product => product;

    /// <summary>True when followed by the gate.</summary>
    public bool Gated => gate is not null;

    /// <summary>x [..., IrrepsIn.Dim] conditioned on a [..., IrrepsAttr.Dim] → [..., IrrepsOut.Dim].</summary>
    public override Tensor forward(Tensor x, Tensor attr)
    {
        using var scope = torch.NewDisposeScope();
        return Finish(product.forward(x, attr)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same as <c>forward(concat.Apply(nodes[target], nodes[source], edgeInputs), attr)</c>, with the weights
    /// applied to the node parts once per node before they are gathered when the product allows it, gradients are
    /// recorded and libtorch runs on one thread (<see cref="TensorProduct.ForwardGathered"/>; SEGNN's message layers),
    /// otherwise through the concatenation.
    /// </summary>
    /// <param name="concat">Regroups [nodes[target], nodes[source], edgeInputs] into <see cref="IrrepsIn"/>.</param>
    /// <param name="nodes">Node tensor [N, concat.Inputs[0].Dim].</param>
    /// <param name="target">Row of <paramref name="nodes"/> for the first part of each edge's input [E] (int64).</param>
    /// <param name="source">Row for the second part [E] (int64).</param>
    /// <param name="edgeInputs">[E, concat.Inputs[2].Dim], or null when concat has two inputs.</param>
    /// <param name="attr">Attributes [E, IrrepsAttr.Dim].</param>
    internal Tensor ForwardGathered(IrrepsConcat concat, Tensor nodes, Tensor target, Tensor source, Tensor? edgeInputs, Tensor attr)
    {
        if (concat.IrrepsOut != IrrepsIn)
            throw new ArgumentException($"{this}: the regrouped input has irreps '{concat.IrrepsOut}', expected '{IrrepsIn}'.", nameof(concat));
        using var scope = torch.NewDisposeScope();
        // Measured on SEGNN's N-body step (benchmarks.md): the gathered route pays off when training on one libtorch
        // thread (63 -> 52 ms). Without gradients the product's hand-written kernel is faster through the concatenation,
        // and with more threads the extra small operations cost more than the smaller products save.
        var y = UseGathered && torch.is_grad_enabled() && torch.get_num_threads() == 1 && product.SupportsGathered(concat)
            ? product.ForwardGathered(concat, nodes, target, source, edgeInputs, attr)
            : product.forward(concat.Apply(nodes.index_select(0, target), nodes.index_select(0, source), edgeInputs), attr);
        return Finish(y).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether <see cref="ForwardGathered"/> applies the weights per node before the gather when gradients are recorded
    /// and libtorch runs on one thread (default true; turn off to compare with the concatenation route). Process-wide.
    /// </summary>
    public static bool UseGathered { get; set; } = true;

    /// <summary>Adds the bias to the scalar blocks and applies the gate, if any.</summary>
    private Tensor Finish(Tensor y)
    {
        if (bias is not null)
        {
            var b = bias.to(y.dtype, y.device);
            if (_biasSlices.Length == 1 && _biasSlices[0].Offset == 0 && _biasSlices[0].Length == ProductIrrepsOut.Dim)
                y = y + b;
            else
            {
                var pieces = new List<Tensor>();
                int at = 0, used = 0;
                foreach (var (offset, length) in _biasSlices)
                {
                    if (offset > at) pieces.Add(torch.zeros(offset - at, dtype: y.dtype, device: y.device));
                    pieces.Add(b.narrow(0, used, length));
                    at = offset + length;
                    used += length;
                }
                if (at < ProductIrrepsOut.Dim) pieces.Add(torch.zeros(ProductIrrepsOut.Dim - at, dtype: y.dtype, device: y.device));
                y = y + torch.cat(pieces, 0);
            }
        }
        if (gate is not null) y = gate.forward(y);
        return y;
    }

    /// <inheritdoc/>
    public override string ToString() => $"SteerableLinear({IrrepsIn} x {IrrepsAttr} -> {IrrepsOut}{(Gated ? ", gated" : "")})";
}
