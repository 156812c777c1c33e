using EquiSharp.Steerable;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>
/// The autograd node of <see cref="PairSiluKernel"/>: SiLU(P[pairs[2e]] + P[pairs[2e+1]] + R[e]) with a
/// hand-written forward and first-order backward. When the backward pass is itself differentiated
/// (create_graph, e.g. training on forces F = −dE/dx) it recomputes the composite with ordinary
/// differentiable operations, so higher derivatives stay exact.
/// </summary>
internal sealed class PairSiluFunction : autograd.SingleTensorFunction<PairSiluFunction>
{
    /// <inheritdoc/>
    public override string Name => nameof(PairSiluFunction);

    /// <summary>Whether the kernel can run: contiguous CPU float32/float64 P [2N, H] and R [E, H], int64 pairs [2E].</summary>
    public static bool Supports(Tensor perNode, Tensor rest, Tensor pairs) =>
        perNode.device_type == DeviceType.CPU && rest.device_type == DeviceType.CPU && pairs.device_type == DeviceType.CPU
        && perNode.dtype is ScalarType.Float32 or ScalarType.Float64 && rest.dtype == perNode.dtype && pairs.dtype == ScalarType.Int64
        && perNode.dim() == 2 && rest.dim() == 2 && pairs.dim() == 1 && rest.shape[1] == perNode.shape[1] && pairs.shape[0] == 2 * rest.shape[0]
        && LaneBlocks.Addressable(rest) && LaneBlocks.Addressable(perNode);

    /// <summary>The differentiable composite, also the reference in tests.</summary>
    public static Tensor Composite(Tensor perNode, Tensor rest, Tensor pairs) =>
        nn.functional.silu(perNode.index_select(0, pairs).view(-1, 2, perNode.shape[1]).sum(1) + rest);

    /// <summary>Runs the kernel (see <see cref="Supports"/>); pairs must index rows of P.</summary>
    public static Tensor Apply(Tensor perNode, Tensor rest, Tensor pairs) => apply(perNode.contiguous(), rest.contiguous(), pairs.contiguous());

    /// <inheritdoc/>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (p, r, pairs) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
        CheckPairs(pairs, p.shape[0]);
        var output = torch.empty_like(r);
        long edges = r.shape[0];
        int hidden = (int)r.shape[1];
        if (p.dtype == ScalarType.Float32) Forward<float>(p, r, pairs, output, edges, hidden);
        else Forward<double>(p, r, pairs, output, edges, hidden);
        ctx.save_for_backward(new List<Tensor> { p, r, pairs });
        return output;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (p, r, pairs) = (saved[0], saved[1], saved[2]);
        if (torch.is_grad_enabled())
        {
            var inputs = new[] { p, r };
            var grads = torch.autograd.grad(new[] { Composite(p, r, pairs) }, inputs, new[] { gradOutput }, retain_graph: true, create_graph: true, allow_unused: true);
            return new List<Tensor> { grads[0], grads[1], null! };
        }
        var g = gradOutput.contiguous();
        var gradR = torch.empty_like(r);
        var gradP = torch.zeros_like(p);
        long edges = r.shape[0];
        int hidden = (int)r.shape[1];
        if (p.dtype == ScalarType.Float32) Backward<float>(p, r, pairs, g, gradR, gradP, edges, hidden);
        else Backward<double>(p, r, pairs, g, gradR, gradP, edges, hidden);
        return new List<Tensor> { gradP, gradR, null! };
    }

    // The kernel reads P through raw pointers: an index outside [0, 2N) must fail here, as index_select would.
    private static unsafe void CheckPairs(Tensor pairs, long rows)
    {
        long n = pairs.shape[0];
        if (n == 0) return;
        fixed (byte* pb = pairs.bytes)
        {
            var pi = (long*)pb;
            for (long k = 0; k < n; k++)
                if ((ulong)pi[k] >= (ulong)rows)
                    throw new ArgumentException($"PairSilu: pair index {pi[k]} at position {k} is outside [0, {rows}) (per-node rows of the first edge layer).");
        }
    }

    private static unsafe void Forward<T>(Tensor p, Tensor r, Tensor pairs, Tensor output, long edges, int hidden)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (edges == 0) return;
        fixed (byte* pp = p.bytes, pr = r.bytes, pi = pairs.bytes, po = output.bytes)
            PairSiluKernel.Forward((T*)pp, (T*)pr, (long*)pi, (T*)po, edges, hidden, torch.get_num_threads());
    }

    private static unsafe void Backward<T>(Tensor p, Tensor r, Tensor pairs, Tensor g, Tensor gradR, Tensor gradP, long edges, int hidden)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (edges == 0) return;
        fixed (byte* pp = p.bytes, pr = r.bytes, pi = pairs.bytes, pg = g.bytes, qr = gradR.bytes, qp = gradP.bytes)
            PairSiluKernel.Backward((T*)pp, (T*)pr, (long*)pi, (T*)pg, (T*)qr, (T*)qp, p.shape[0], edges, hidden, torch.get_num_threads());
    }
}
