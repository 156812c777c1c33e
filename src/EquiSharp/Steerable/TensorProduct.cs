using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// A tensor product defined as data (e3nn's TensorProduct): a list of paths
/// (<see cref="TensorProductInstruction"/>) coupling blocks of two irreps-typed inputs into blocks of
/// the output with the real 3j symbols, each scaled by e3nn's normalisation coefficient. Weights are
/// internal (one shared <see cref="Parameter"/>, N(0, 1) initialised) or supplied per call, shared
/// [WeightNumel] or per row [..., WeightNumel] (e.g. from a radial MLP of the edge length).
/// </summary>
/// <remarks>
/// <para>Weights are laid out as in e3nn: path after path, each path's weights in the row-major shape
/// of <see cref="TensorProductInstruction.WeightShape"/>.</para>
/// <para>Each path is contracted in small dense steps: input 2 with the 3j symbol (one matrix
/// product [rows·v, 2l2+1] × [2l2+1, (2l1+1)(2l_out+1)]), then with input 1 as a batched product, and
/// the weights last (uvw: one matrix product over u·v). uvw and uvu paths whose input 2 has
/// multiplicity 1 (edge spherical harmonics, the common case) run channels last instead: input-1
/// blocks transposed once to [rows, 2l1+1, u], l1 = 0 and l2 = 0 paths as single broadcast
/// products, uvu weights fused into the in-place accumulation. No intermediate exceeds
/// rows × mul × (2l+1)², and the outer product of the inputs is never materialised. Inputs and
/// weights are split once, and the paths into an output block accumulate in place into a tensor
/// the product owns (shared uvw weights with <c>addmm_</c>), so the backward pass needs no
/// full-size scatters. Every step is an ordinary differentiable operation: double backward (forces
/// as gradients of an energy) works.</para>
/// </remarks>
public class TensorProduct : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly PathPlan[] _plans;
    private readonly Dictionary<(ScalarType, string), Tensor[]> _kernels = new();
    private readonly object _kernelLock = new();
    private readonly Parameter? weight;
    private readonly TensorProductKernel? _kernel;

    /// <summary>Creates the tensor product.</summary>
    /// <param name="irrepsIn1">Irreps of the first input.</param>
    /// <param name="irrepsIn2">Irreps of the second input.</param>
    /// <param name="irrepsOut">Irreps of the output.</param>
    /// <param name="instructions">The paths.</param>
    /// <param name="irrepNormalization">e3nn's irrep_normalization (default component).</param>
    /// <param name="pathNormalization">e3nn's path_normalization (default element).</param>
    /// <param name="internalWeights">True: one learnable weight vector; false: weights are passed to <see cref="forward(Tensor, Tensor, Tensor?)"/>.</param>
    public TensorProduct(Irreps irrepsIn1, Irreps irrepsIn2, Irreps irrepsOut, IEnumerable<TensorProductInstruction> instructions,
        IrrepNormalization irrepNormalization = IrrepNormalization.Component, PathNormalization pathNormalization = PathNormalization.Element,
        bool internalWeights = true)
        : base(nameof(TensorProduct))
    {
        IrrepsIn1 = irrepsIn1 ?? throw new ArgumentNullException(nameof(irrepsIn1));
        IrrepsIn2 = irrepsIn2 ?? throw new ArgumentNullException(nameof(irrepsIn2));
        IrrepsOut = irrepsOut ?? throw new ArgumentNullException(nameof(irrepsOut));
        ArgumentNullException.ThrowIfNull(instructions);
        Instructions = instructions.ToArray();
        IrrepNormalization = irrepNormalization;
        PathNormalization = pathNormalization;
        _plans = new PathPlan[Instructions.Count];
        long offset = 0;
        for (int p = 0; p < Instructions.Count; p++)
        {
            var ins = Instructions[p];
            Validate(ins, p);
            var (m1, m2, mo) = (IrrepsIn1[ins.In1], IrrepsIn2[ins.In2], IrrepsOut[ins.Out]);
            var shape = ins.HasWeight ? ins.WeightShape(m1.Mul, m2.Mul, mo.Mul) : Array.Empty<long>();
            long numel = ins.HasWeight ? shape.Aggregate(1L, (a, b) => a * b) : 0;
            double coefficient = Coefficient(ins);
            _plans[p] = new PathPlan(ins, m1, m2, mo, offset, numel, shape, coefficient, IdentityScale(m1.Irrep.L, m2.Irrep.L, mo.Irrep.L, coefficient));
            offset += numel;
        }
        WeightNumel = offset;
        _kernel = TensorProductKernel.TryCreate(IrrepsIn1, IrrepsIn2, IrrepsOut,
            _plans.Select(pl => (pl.Ins, pl.WeightOffset, pl.Coefficient)).ToArray(), WeightNumel);
        InternalWeights = internalWeights;
        if (internalWeights && WeightNumel > 0)
            weight = new Parameter(torch.randn(WeightNumel));
        RegisterComponents();
    }

    /// <summary>Irreps of the first input.</summary>
    public Irreps IrrepsIn1 { get; }

    /// <summary>Irreps of the second input.</summary>
    public Irreps IrrepsIn2 { get; }

    /// <summary>Irreps of the output.</summary>
    public Irreps IrrepsOut { get; }

    /// <summary>The paths.</summary>
    public IReadOnlyList<TensorProductInstruction> Instructions { get; }

    /// <summary>The irrep normalisation.</summary>
    public IrrepNormalization IrrepNormalization { get; }

    /// <summary>The path normalisation.</summary>
    public PathNormalization PathNormalization { get; }

    /// <summary>True when the weights are the module's own parameter.</summary>
    public bool InternalWeights { get; }

    /// <summary>Total number of weights (all weighted paths).</summary>
    public long WeightNumel { get; }

    /// <summary>
    /// Run float32/float64 CPU calls through the hand-written kernel when every path is uvu or uvw with
    /// input-2 multiplicity 1 (default true; see <see cref="HasKernel"/>). Training shared uvw weights
    /// with more than 256 channel pairs (u·w) per path stays on the composite, whose weight gradient is
    /// one matrix product. False forces the composite of ordinary tensor operations, which every
    /// other case uses. Both give the same values and gradients up to rounding.
    /// </summary>
    public bool UseKernel { get; set; } = true;

    /// <summary>True when this product's paths are within the kernel's scope (uvu/uvw, input-2 multiplicity 1).</summary>
    public bool HasKernel => _kernel is not null;

    /// <summary>The internal weights [WeightNumel], or null.</summary>
    public Parameter? Weight => weight;

    /// <summary>The coefficient e3nn multiplies path <paramref name="index"/>'s unit-norm 3j symbol by.</summary>
    public double PathCoefficient(int index) => _plans[index].Coefficient;

    /// <summary>The tensor product of x1 [..., IrrepsIn1.Dim] and x2 [..., IrrepsIn2.Dim] with the internal weights.</summary>
    public override Tensor forward(Tensor x1, Tensor x2) => forward(x1, x2, null);

    /// <summary>
    /// The tensor product of x1 [..., IrrepsIn1.Dim] and x2 [..., IrrepsIn2.Dim] (same leading shape)
    /// → [..., IrrepsOut.Dim]. <paramref name="weights"/>: null (internal weights), [WeightNumel]
    /// (shared) or [..., WeightNumel] (one set per row).
    /// </summary>
    public Tensor forward(Tensor x1, Tensor x2, Tensor? weights)
    {
        using var scope = torch.NewDisposeScope();
        var (a1, lead) = IrrepsIn1.Flatten(x1, nameof(x1));
        var (a2, lead2) = IrrepsIn2.Flatten(x2, nameof(x2));
        if (!lead.SequenceEqual(lead2))
            throw new ArgumentException($"x1 {GraphValidation.Shape(x1)} and x2 {GraphValidation.Shape(x2)} must have the same leading shape.", nameof(x2));
        long n = a1.shape[0];
        var (w, perRow) = ResolveWeights(weights, lead, n, x1);
        var result = UsesKernel(a1, a2, w, perRow)
            ? TensorProductFunction.Apply(new TensorProductFunction.Setup(_kernel!, perRow, (p1, p2, pw) => Composite(p1, p2, pw, perRow)),
                a1.contiguous(), a2.contiguous(), w?.contiguous())
            : Composite(a1, a2, w, perRow);
        return result.reshape(lead.Append(IrrepsOut.Dim).ToArray()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The product of a1 [n, IrrepsIn1.Dim] and a2 [n, IrrepsIn2.Dim] with ordinary differentiable
    /// tensor operations (any device, any paths; double backward works) → [n, IrrepsOut.Dim].
    /// </summary>
    private Tensor Composite(Tensor a1, Tensor a2, Tensor? w, bool perRow)
    {
        long n = a1.shape[0];
        var kernels = Kernels(a1.dtype, a1.device);

        // Split inputs and weights once: the backward of a split is one concatenation, whereas a
        // narrow per path would scatter each path's gradient into a full-size zero tensor.
        var blocks1 = Split(a1, IrrepsIn1, n);
        var blocks2 = Split(a2, IrrepsIn2, n);
        var pathWeights = new Tensor?[_plans.Length];
        if (w is not null && WeightNumel > 0)
        {
            var pieces = w.split(_plans.Select(pl => pl.WeightNumel).ToArray(), perRow ? 1 : 0);
            for (int p = 0; p < _plans.Length; p++)
                if (_plans[p].Ins.HasWeight)
                    pathWeights[p] = pieces[p].view(perRow ? new[] { n }.Concat(_plans[p].WeightShape).ToArray() : _plans[p].WeightShape);
        }
        var accumulators = new Accumulator[IrrepsOut.Count];
        for (int o = 0; o < accumulators.Length; o++) accumulators[o] = new Accumulator(n, IrrepsOut[o].Mul, IrrepsOut[o].Irrep.Dim);
        // Input 1 blocks as [n, 2l + 1, mul] (channels last, contiguous), made once for all the paths that read them.
        var blocks1T = new Tensor?[IrrepsIn1.Count];
        Tensor ChannelsLast(int b) => blocks1T[b] ??= IrrepsIn1[b].Irrep.Dim == 1
            ? blocks1[b].view(n, 1, IrrepsIn1[b].Mul)
            : blocks1[b].transpose(1, 2).contiguous();
        for (int p = 0; p < _plans.Length; p++)
        {
            var plan = _plans[p];
            if (plan.Mul1.Mul == 0 || plan.Mul2.Mul == 0 || plan.MulOut.Mul == 0) continue;
            if (plan.Mul2.Mul == 1 && plan.Ins.Mode is ConnectionMode.Uvw or ConnectionMode.Uvu)
                ContractChannelsLast(plan, ChannelsLast(plan.Ins.In1), blocks2[plan.Ins.In2], kernels[p], pathWeights[p], perRow, n, accumulators[plan.Ins.Out]);
            else
                Contract(plan, blocks1[plan.Ins.In1], blocks2[plan.Ins.In2], kernels[p], pathWeights[p], perRow, n, accumulators[plan.Ins.Out]);
        }
        return Assemble(accumulators, n, a1);
    }

    /// <summary>The output [n, IrrepsOut.Dim] from the blocks' sums (zeros for blocks no path reached).</summary>
    private Tensor Assemble(Accumulator[] accumulators, long n, Tensor like)
    {
        var outputs = new List<Tensor>();
        for (int o = 0; o < IrrepsOut.Count; o++)
        {
            var mi = IrrepsOut[o];
            if (mi.Dim == 0) continue;
            var acc = accumulators[o];
            outputs.Add(acc.IsEmpty ? torch.zeros(new[] { n, (long)mi.Dim }, dtype: like.dtype, device: like.device) : acc.Result());
        }
        return outputs.Count switch
        {
            0 => torch.zeros(new[] { n, 0L }, dtype: like.dtype, device: like.device),
            1 => outputs[0],
            _ => torch.cat(outputs, 1),
        };
    }

    /// <summary>
    /// Whether <see cref="ForwardGathered"/> can compute this product for inputs regrouped by
    /// <paramref name="concat"/>: internal (shared) weights, every path uvw with weights and an input 2 of
    /// multiplicity 1, and input 1 the concatenation of two gathers of one node tensor and optionally edge inputs.
    /// </summary>
    internal bool SupportsGathered(IrrepsConcat concat) =>
        weight is not null && concat.IrrepsOut == IrrepsIn1
        && concat.Inputs.Count is 2 or 3 && concat.Inputs[0] == concat.Inputs[1]
        && _plans.All(pl => pl.Ins.Mode == ConnectionMode.Uvw && pl.Ins.HasWeight && pl.Mul2.Mul == 1);

    /// <summary>
    /// The product of x1 = <c>concat.Apply(nodes[target], nodes[source], edgeInputs)</c> with x2 [E, IrrepsIn2.Dim] and
    /// the internal weights, with the weights applied before the gather: for a uvw path,
    /// Σ_u W[u, w] (x1_u ⊗ x2) = (Σ_u W[u, w] x1_u) ⊗ x2, and the node parts of Σ_u W[u, w] x1_u are computed once per
    /// node and then gathered (N rows instead of E in the matrix products), the edge inputs per edge. The same values
    /// as <c>forward(concat.Apply(...), x2)</c> up to rounding, with ordinary differentiable operations (double
    /// backward works). Needs <see cref="SupportsGathered"/>.
    /// </summary>
    /// <param name="concat">The regrouping of [nodes[target], nodes[source], edgeInputs] into IrrepsIn1.</param>
    /// <param name="nodes">Node tensor [N, concat.Inputs[0].Dim].</param>
    /// <param name="target">Row of <paramref name="nodes"/> for the first part of each edge's input [E] (int64).</param>
    /// <param name="source">Row for the second part [E] (int64).</param>
    /// <param name="edgeInputs">[E, concat.Inputs[2].Dim], or null when concat has two inputs.</param>
    /// <param name="x2">Second input [E, IrrepsIn2.Dim].</param>
    internal Tensor ForwardGathered(IrrepsConcat concat, Tensor nodes, Tensor target, Tensor source, Tensor? edgeInputs, Tensor x2)
    {
        if (!SupportsGathered(concat)) throw new InvalidOperationException($"{this}: the gathered forward does not apply to '{concat.IrrepsOut}'.");
        using var scope = torch.NewDisposeScope();
        long e = x2.shape[0], nodeCount = nodes.shape[0];
        var kernels = Kernels(nodes.dtype, nodes.device);
        var w = weight!.to(nodes.dtype, nodes.device);
        var pathWeights = w.split(_plans.Select(pl => pl.WeightNumel).ToArray(), 0);
        var blocks2 = Split(x2, IrrepsIn2, e);
        Irreps nodeIrreps = concat.Inputs[0], edgeIrreps = concat.Inputs.Count == 3 ? concat.Inputs[2] : Irreps.Empty;
        var nodeBlocks = Split(nodes, nodeIrreps, nodeCount);
        var edgeBlocks = edgeInputs is null ? [] : Split(edgeInputs, edgeIrreps, e);
        // Blocks channels last, [rows, 2l + 1, mul], as the weights contract the channels.
        static Tensor ChannelsLast(Tensor block) => block.shape[2] == 1 ? block.transpose(1, 2) : block.transpose(1, 2).contiguous();
        var nodeT = new Tensor?[nodeBlocks.Length];
        var edgeT = new Tensor?[edgeBlocks.Length];
        var accumulators = new Accumulator[IrrepsOut.Count];
        for (int o = 0; o < accumulators.Length; o++) accumulators[o] = new Accumulator(e, IrrepsOut[o].Mul, IrrepsOut[o].Irrep.Dim);
        // Per block of input 1, every path's weights side by side, so that each part of the input takes one matrix
        // product and each gather one index_select for all the paths that read the block.
        for (int b = 0; b < IrrepsIn1.Count; b++)
        {
            var paths = Enumerable.Range(0, _plans.Length).Where(p => _plans[p].Ins.In1 == b && _plans[p].Mul1.Mul > 0 && _plans[p].MulOut.Mul > 0).ToArray();
            if (paths.Length == 0) continue;
            var wBlock = paths.Length == 1
                ? pathWeights[paths[0]].view(IrrepsIn1[b].Mul, _plans[paths[0]].MulOut.Mul)
                : torch.cat(paths.Select(p => pathWeights[p].view(IrrepsIn1[b].Mul, _plans[p].MulOut.Mul)).ToArray(), 1); // [u, Σw]
            // z = Σ_u W[u, w] x1_u as [rows, 2l1 + 1, Σw]: per node for the gathered parts, per edge for the edge inputs.
            var z = new Tensor?[3];
            foreach (var seg in concat.Segments[b])
            {
                var xT = seg.Input < 2
                    ? nodeT[seg.Block] ??= ChannelsLast(nodeBlocks[seg.Block])
                    : edgeT[seg.Block] ??= ChannelsLast(edgeBlocks[seg.Block]);
                var part = xT.matmul(wBlock.narrow(0, seg.Channel, seg.Mul));
                z[seg.Input] = z[seg.Input] is null ? part : z[seg.Input]! + part;
            }
            Tensor? zEdge = z[2];
            if (z[0] is not null) zEdge = zEdge is null ? z[0]!.index_select(0, target) : zEdge + z[0]!.index_select(0, target);
            if (z[1] is not null) zEdge = zEdge is null ? z[1]!.index_select(0, source) : zEdge + z[1]!.index_select(0, source);
            if (zEdge is null) continue;
            long column = 0;
            foreach (int p in paths)
            {
                var plan = _plans[p];
                long wOut = plan.MulOut.Mul;
                var zp = paths.Length == 1 ? zEdge : zEdge.narrow(2, column, wOut); // [E, 2l1 + 1, w]
                column += wOut;
                var (left, right) = AttributeFactors(plan, zp, blocks2[plan.Ins.In2], kernels[p], null, e);
                accumulators[plan.Ins.Out].Add(right is null ? left : left * right, transposed: true); // [E, 2l_out + 1, w]
            }
        }
        return Assemble(accumulators, e, nodes).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Shared uvw weights with u·w above this are trained through the composite: their gradient is a
    /// reduction over all rows, which one large matrix product does better than the kernel.
    /// </summary>
    private const int KernelSharedGradientLimit = 256;

    /// <summary>True when the hand-written CPU kernel runs this call (see <see cref="UseKernel"/>).</summary>
    private bool UsesKernel(Tensor a1, Tensor a2, Tensor? w, bool perRow)
    {
        if (!UseKernel || _kernel is null || a1.device_type != DeviceType.CPU || a1.dtype is not (ScalarType.Float32 or ScalarType.Float64)
            || a2.dtype != a1.dtype || a2.device_type != DeviceType.CPU
            || (w is not null && (w.dtype != a1.dtype || w.device_type != DeviceType.CPU))
            || !LaneBlocks.Addressable(a1) || !LaneBlocks.Addressable(a2) || (w is not null && !LaneBlocks.Addressable(w))
            || a1.shape[0] * (long)IrrepsOut.Dim * a1.element_size() >= int.MaxValue)
            return false;
        bool trainsSharedWeights = w is not null && !perRow && w.requires_grad && torch.is_grad_enabled();
        return !trainsSharedWeights || _kernel.LargestUvw <= KernelSharedGradientLimit;
    }

    /// <inheritdoc/>
    public override string ToString() => $"TensorProduct({IrrepsIn1} x {IrrepsIn2} -> {IrrepsOut}, {Instructions.Count} paths, {WeightNumel} weights)";

    // ------------------------------------------------------------------ contraction

    /// <summary>
    /// The running sum of the paths into one output block of shape (n, mul, d). It is always a tensor
    /// the tensor product created itself (never a view), so later paths add into it in place without
    /// copies in the backward pass. Layouts: [n, mul, d], [n, d, mul], or the matrix [n·d, mul] that
    /// uvw paths accumulate into with one in-place matrix product each.
    /// </summary>
    private sealed class Accumulator(long n, long mul, long d)
    {
        private enum Layout { Blocks, Transposed, Matrix }

        private Tensor? _value;
        private Layout _layout;

        public bool IsEmpty => _value is null;

        /// <summary>Adds <paramref name="own"/> [n, mul, d] (or [n, d, mul] when <paramref name="transposed"/>).</summary>
        public void Add(Tensor own, bool transposed)
        {
            if (_value is null) { _value = own; _layout = transposed ? Layout.Transposed : Layout.Blocks; return; }
            if (_layout == Layout.Blocks) { _value.add_(transposed ? own.transpose(1, 2) : own); return; }
            var asTransposed = transposed ? own : own.transpose(1, 2);
            _value.add_(_layout == Layout.Transposed ? asTransposed : asTransposed.reshape(n * d, mul));
        }

        /// <summary>Adds a · b (broadcast to [n, mul, d], or [n, d, mul] when <paramref name="transposed"/>); b null: a alone.</summary>
        public void AddProduct(Tensor a, Tensor? b, bool transposed)
        {
            if (b is null) { Add(a, transposed); return; }
            var layout = transposed ? Layout.Transposed : Layout.Blocks;
            if (_value is null) { _value = a * b; _layout = layout; }
            else if (_layout == layout) _value.addcmul_(a, b, 1.0);
            else Add(a * b, transposed);
        }

        /// <summary>Adds (t W) viewed as [n, d, mul], for t [n·d, k] and W [k, mul].</summary>
        public void AddMatmul(Tensor t, Tensor w)
        {
            if (_value is null) { _value = t.mm(w); _layout = Layout.Matrix; }
            else if (_layout == Layout.Matrix) _value.addmm_(t, w, 1f, 1f);
            else Add(t.mm(w).view(n, d, mul), true);
        }

        /// <summary>The sum as [n, mul·d] in the irreps layout.</summary>
        public Tensor Result() => _layout switch
        {
            Layout.Blocks => _value!.reshape(n, mul * d),
            Layout.Transposed => _value!.transpose(1, 2).reshape(n, mul * d),
            _ => _value!.view(n, d, mul).transpose(1, 2).reshape(n, mul * d),
        };
    }

    /// <summary>
    /// Adds the output of a uvw or uvu path whose input 2 has multiplicity 1 (e.g. edge spherical
    /// harmonics), computed channels last: x1T [n, d1, u] (contiguous), so every large elementwise
    /// operation runs over contiguous channels (<see cref="AttributeFactors"/>). uvu weights multiply in
    /// the same fused in-place step as the accumulation; uvw weights follow as one matrix product.
    /// </summary>
    private static void ContractChannelsLast(PathPlan plan, Tensor x1T, Tensor x2, Tensor kernel, Tensor? w, bool perRow, long n, Accumulator acc)
    {
        long u = plan.Mul1.Mul, wOut = plan.MulOut.Mul, dO = plan.MulOut.Irrep.Dim;
        var scale = plan.Ins.Mode == ConnectionMode.Uvu && w is not null ? w.view(perRow ? n : 1, 1, u) : null;
        var (a, b) = AttributeFactors(plan, x1T, x2, kernel, scale, n);
        if (plan.Ins.Mode == ConnectionMode.Uvu) { acc.AddProduct(a, b, transposed: true); return; }
        var y = b is null ? a : a * b; // [n, dO, u]
        if (perRow) acc.Add(torch.bmm(y, w!.view(n, u, wOut)), transposed: true);
        else acc.AddMatmul(y.reshape(n * dO, u), w!.view(u, wOut));
    }

    /// <summary>
    /// y[n, k, c] = Σ_i M[n, i, k] xT[n, i, c] · scale[.., c] for a path whose input 2 has multiplicity 1, returned as
    /// factors a·b (b null: a alone) so that callers can fuse the last product. Input 2 and the 3j symbol first make the
    /// per-row matrix M[n, i, k] = Σ_j x2[n, j] C[i, j, k]; then the sum over i is one broadcast product when l1 = 0
    /// (i has one value) or l2 = 0 (M is x2 times the identity), a dot product when l_out = 0, else one batched matrix
    /// product. xT is [n, 2l1 + 1, c] with any channels c (input channels, or outputs of weights applied first).
    /// </summary>
    private static (Tensor A, Tensor? B) AttributeFactors(PathPlan plan, Tensor xT, Tensor x2, Tensor kernel, Tensor? scale, long n)
    {
        long d1 = plan.Mul1.Irrep.Dim, d2 = plan.Mul2.Irrep.Dim, dO = plan.MulOut.Irrep.Dim;
        if (plan.IdentityScale is double s)
        {
            var f = x2.view(n, 1, 1) * s;
            return (xT, scale is null ? f : f * scale);
        }
        var m = x2.view(n, d2).matmul(kernel); // [n, (i, k)]
        if (d1 == 1) return (m.view(n, dO, 1), scale is null ? xT : xT * scale);
        if (dO == 1) return ((m.view(n, d1, 1) * xT).sum(1, keepdim: true), scale); // a dot product over i: no batch of 1×d1 matrix products
        return (torch.bmm(m.view(n, d1, dO).transpose(1, 2), xT), scale); // [n, dO, c]
    }

    /// <summary>Adds the path's output into <paramref name="acc"/>.</summary>
    private static void Contract(PathPlan plan, Tensor x1, Tensor x2, Tensor kernel, Tensor? w, bool perRow, long n, Accumulator acc)
    {
        long u = plan.Mul1.Mul, v = plan.Mul2.Mul, wOut = plan.MulOut.Mul;
        long d1 = plan.Mul1.Irrep.Dim, d2 = plan.Mul2.Irrep.Dim, dO = plan.MulOut.Irrep.Dim;
        // x2C[n, v, i, k] = Σ_j x2[n, v, j] C[i, j, k] (C already carries the path coefficient).
        var x2c = (v == 1 ? x2.view(n, d2) : x2.reshape(n * v, d2)).matmul(kernel).view(n, v, d1, dO);
        switch (plan.Ins.Mode)
        {
            case ConnectionMode.Uvw:
            {
                // t[n, k, (u, v)] = Σ_i x2C[n, v, i, k] x1[n, u, i], then one matrix product with W[(u, v), w].
                Tensor t;
                if (v == 1) t = torch.bmm(x2c.view(n, d1, dO).transpose(1, 2), x1.transpose(1, 2)); // [n, dO, u]
                else
                    t = torch.bmm(x2c.permute(0, 1, 3, 2).reshape(n, v * dO, d1), x1.transpose(1, 2)) // [n, (v, dO), u]
                        .view(n, v, dO, u).permute(0, 2, 3, 1);
                if (perRow) acc.Add(torch.bmm(t.reshape(n, dO, u * v), w!.view(n, u * v, wOut)), transposed: true); // [n, dO, w]
                else acc.AddMatmul(t.reshape(n * dO, u * v), w!.view(u * v, wOut));
                return;
            }
            case ConnectionMode.Uvu when v == 1:
            {
                var t = torch.bmm(x1, x2c.view(n, d1, dO)); // [n, u, dO]
                acc.AddProduct(t, w is null ? null : perRow ? w.view(n, u, 1) : w.view(u, 1), transposed: false);
                return;
            }
            case ConnectionMode.Uvu:
            case ConnectionMode.Uvv:
            {
                // t[n, u, v, k] = Σ_i x1[n, u, i] x2C[n, v, i, k]
                var t = torch.bmm(x1, x2c.permute(0, 2, 1, 3).reshape(n, d1, v * dO)).view(n, u, v, dO);
                var weighted = w is null ? t : t * (perRow ? w.view(n, u, v, 1) : w.view(u, v, 1));
                acc.Add(weighted.sum(plan.Ins.Mode == ConnectionMode.Uvu ? 2 : 1), false);
                return;
            }
            default:
            {
                // Paired channels: d[n, u, k] = Σ_i x1[n, u, i] x2C[n, u, i, k]
                var d = (x1.unsqueeze(-1) * x2c).sum(2);
                if (plan.Ins.Mode == ConnectionMode.Uuu)
                {
                    acc.AddProduct(d, w is null ? null : perRow ? w.view(n, u, 1) : w.view(u, 1), transposed: false);
                    return;
                }
                var o = perRow ? torch.bmm(d.transpose(1, 2), w!.view(n, u, wOut)) : d.transpose(1, 2).matmul(w!.view(u, wOut)); // [n, dO, w]
                acc.Add(o, transposed: true);
                return;
            }
        }
    }

    /// <summary>The blocks of x [n, irreps.Dim] as views [n, mul, 2l + 1] (one split, so one concatenation in the backward pass).</summary>
    private static Tensor[] Split(Tensor x, Irreps irreps, long n)
    {
        var pieces = irreps.Count == 1 ? new[] { x } : x.split(irreps.Select(b => (long)b.Dim).ToArray(), 1);
        var blocks = new Tensor[irreps.Count];
        for (int i = 0; i < irreps.Count; i++) blocks[i] = pieces[i].view(n, irreps[i].Mul, irreps[i].Irrep.Dim);
        return blocks;
    }

    private (Tensor? Weights, bool PerRow) ResolveWeights(Tensor? weights, long[] lead, long n, Tensor like)
    {
        if (weights is null)
        {
            if (WeightNumel > 0 && weight is null)
                throw new ArgumentException($"This tensor product has external weights: pass weights [{WeightNumel}] or [..., {WeightNumel}].", nameof(weights));
            return (weight?.to(like.dtype, like.device), false);
        }
        if (weights.dim() == 1)
        {
            if (weights.shape[0] != WeightNumel)
                throw new ArgumentException($"Shared weights must be [{WeightNumel}], got {GraphValidation.Shape(weights)}.", nameof(weights));
            return (weights, false);
        }
        if (!weights.shape[..^1].SequenceEqual(lead) || weights.shape[^1] != WeightNumel)
            throw new ArgumentException($"Per-row weights must be [{string.Join(", ", lead)}, {WeightNumel}], got {GraphValidation.Shape(weights)}.", nameof(weights));
        return (weights.reshape(n, WeightNumel), true);
    }

    private void Validate(TensorProductInstruction ins, int index)
    {
        string where = $"Instruction {index} ({ins.In1}, {ins.In2}, {ins.Out}, {ins.Mode})";
        if (ins.In1 < 0 || ins.In1 >= IrrepsIn1.Count || ins.In2 < 0 || ins.In2 >= IrrepsIn2.Count || ins.Out < 0 || ins.Out >= IrrepsOut.Count)
            throw new ArgumentException($"{where}: block index out of range for '{IrrepsIn1}', '{IrrepsIn2}', '{IrrepsOut}'.");
        var (m1, m2, mo) = (IrrepsIn1[ins.In1], IrrepsIn2[ins.In2], IrrepsOut[ins.Out]);
        if (!m1.Irrep.CanCouple(m2.Irrep, mo.Irrep))
            throw new ArgumentException($"{where}: {m1.Irrep} x {m2.Irrep} does not contain {mo.Irrep}.");
        bool ok = ins.Mode switch
        {
            ConnectionMode.Uvw => true,
            ConnectionMode.Uvu => mo.Mul == m1.Mul,
            ConnectionMode.Uvv => mo.Mul == m2.Mul,
            ConnectionMode.Uuw => m1.Mul == m2.Mul,
            _ => m1.Mul == m2.Mul && m2.Mul == mo.Mul,
        };
        if (!ok) throw new ArgumentException($"{where}: multiplicities {m1.Mul}, {m2.Mul} -> {mo.Mul} do not fit mode {ins.Mode}.");
        if (!ins.HasWeight && ins.Mode is ConnectionMode.Uvw or ConnectionMode.Uuw)
            throw new ArgumentException($"{where}: mode {ins.Mode} needs weights (it mixes channels).");
        if (!(ins.PathWeight >= 0) || double.IsInfinity(ins.PathWeight))
            throw new ArgumentException($"{where}: the path weight must be finite and non-negative, got {ins.PathWeight}.");
    }

    /// <summary>sqrt(alpha) exactly as e3nn computes it (input and output variances 1).</summary>
    private double Coefficient(TensorProductInstruction ins)
    {
        var (m1, m2, mo) = (IrrepsIn1[ins.In1], IrrepsIn2[ins.In2], IrrepsOut[ins.Out]);
        double alpha = IrrepNormalization switch
        {
            IrrepNormalization.Component => mo.Irrep.Dim,
            IrrepNormalization.Norm => m1.Irrep.Dim * m2.Irrep.Dim,
            _ => 1,
        };
        var siblings = Instructions.Where(i => i.Out == ins.Out).ToArray();
        double x = PathNormalization switch
        {
            PathNormalization.Element => siblings.Sum(i => (double)i.FanIn(IrrepsIn1[i.In1].Mul, IrrepsIn2[i.In2].Mul)),
            PathNormalization.Path => (double)ins.FanIn(m1.Mul, m2.Mul) * siblings.Length,
            _ => 1,
        };
        if (x > 0) alpha /= x;
        alpha *= ins.PathWeight;
        return Math.Sqrt(alpha);
    }

    private Tensor[] Kernels(ScalarType dtype, Device device)
    {
        var key = (dtype, device.ToString());
        lock (_kernelLock)
        {
            if (_kernels.TryGetValue(key, out var cached)) return cached;
            var list = new Tensor[_plans.Length];
            for (int p = 0; p < _plans.Length; p++)
            {
                var plan = _plans[p];
                int l1 = plan.Mul1.Irrep.L, l2 = plan.Mul2.Irrep.L, lo = plan.MulOut.Irrep.L;
                using var c = Wigner3j.Get(l1, l2, lo) * plan.Coefficient;
                // [j, (i, k)] so that input 2 is contracted first.
                using var cj = c.permute(1, 0, 2).reshape(2 * l2 + 1, (2 * l1 + 1) * (2 * lo + 1));
                list[p] = cj.to(dtype, device).contiguous().DetachFromDisposeScope();
            }
            _kernels[key] = list;
            return list;
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            lock (_kernelLock)
            {
                foreach (var list in _kernels.Values) foreach (var t in list) t.Dispose();
                _kernels.Clear();
            }
        base.Dispose(disposing);
    }

    /// <summary>c·C[i, 0, k] as the scalar s with C[i, 0, k] = s δ_ik when l2 = 0 (then l1 = l_out), else null.</summary>
    private static double? IdentityScale(int l1, int l2, int lo, double coefficient)
    {
        if (l2 != 0 || l1 != lo) return null;
        var c = Wigner3j.Values(l1, 0, lo);
        int d = 2 * l1 + 1;
        double s = c[0];
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++)
                if (Math.Abs(c[i * d + k] - (i == k ? s : 0)) > 1e-12) return null;
        return s * coefficient;
    }

    private sealed record PathPlan(TensorProductInstruction Ins, MulIrrep Mul1, MulIrrep Mul2, MulIrrep MulOut,
        long WeightOffset, long WeightNumel, long[] WeightShape, double Coefficient, double? IdentityScale);
}
