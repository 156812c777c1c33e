using EquiSharp.Steerable;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.MessagePassing;

/// <summary>
/// The autograd node of <see cref="SiluGateKernel"/>: SiLU(y) · σ(SiLU(y) Wᵀ + b) for an attention
/// layer Linear(H, 1) with weight W [1, H] and bias b [1]. Under create_graph the backward recomputes
/// the differentiable composite, so higher derivatives stay exact.
/// </summary>
internal sealed class SiluGateFunction : autograd.SingleTensorFunction<SiluGateFunction>
{
    /// <inheritdoc/>
    public override string Name => nameof(SiluGateFunction);

    /// <summary>Whether the kernel can run: CPU float32/float64 y [E, H], W [1, H], b [1] of one dtype.</summary>
    public static bool Supports(Tensor y, Tensor weight, Tensor? bias) =>
        bias is not null && y.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU && bias.device_type == DeviceType.CPU
        && y.dtype is ScalarType.Float32 or ScalarType.Float64 && weight.dtype == y.dtype && bias.dtype == y.dtype
        && y.dim() == 2 && weight.dim() == 2 && weight.shape[0] == 1 && weight.shape[1] == y.shape[1] && bias.numel() == 1
        && LaneBlocks.Addressable(y);

    /// <summary>The differentiable composite, also the reference in tests.</summary>
    public static Tensor Composite(Tensor y, Tensor weight, Tensor? bias)
    {
        var m = nn.functional.silu(y);
        return m * torch.sigmoid(nn.functional.linear(m, weight, bias));
    }

    /// <summary>Runs the kernel (see <see cref="Supports"/>).</summary>
    public static Tensor Apply(Tensor y, Tensor weight, Tensor bias) => apply(y.contiguous(), weight.contiguous(), bias.contiguous());

    /// <inheritdoc/>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (y, w, b) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
        var output = torch.empty_like(y);
        if (y.dtype == ScalarType.Float32) Forward(y, w, b.item<float>(), output);
        else Forward(y, w, b.item<double>(), output);
        ctx.save_for_backward(new List<Tensor> { y, w, b });
        return output;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (y, w, b) = (saved[0], saved[1], saved[2]);
        if (torch.is_grad_enabled())
        {
            var grads = torch.autograd.grad(new[] { Composite(y, w, b) }, new[] { y, w, b }, new[] { gradOutput },
                retain_graph: true, create_graph: true, allow_unused: true);
            return new List<Tensor> { grads[0], grads[1], grads[2] };
        }
        var g = gradOutput.contiguous();
        var gradY = torch.empty_like(y);
        var gradW = torch.empty_like(w);
        Tensor gradB;
        if (y.dtype == ScalarType.Float32) gradB = torch.tensor(Backward(y, w, b.item<float>(), g, gradY, gradW), dtype: y.dtype).reshape(b.shape);
        else gradB = torch.tensor(Backward(y, w, b.item<double>(), g, gradY, gradW), dtype: y.dtype).reshape(b.shape);
        return new List<Tensor> { gradY, gradW, gradB };
    }

    private static unsafe void Forward<T>(Tensor y, Tensor w, T c, Tensor output) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        long rows = y.shape[0];
        if (rows == 0) return;
        fixed (byte* py = y.bytes, pw = w.bytes, po = output.bytes)
            SiluGateKernel.Forward((T*)py, (T*)pw, c, (T*)po, rows, (int)y.shape[1], torch.get_num_threads());
    }

    private static unsafe T Backward<T>(Tensor y, Tensor w, T c, Tensor g, Tensor gradY, Tensor gradW) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        long rows = y.shape[0];
        if (rows == 0)
        {
            gradW.zero_();
            return T.Zero;
        }
        fixed (byte* py = y.bytes, pw = w.bytes, pg = g.bytes, qy = gradY.bytes, qw = gradW.bytes)
        {
            SiluGateKernel.Backward((T*)py, (T*)pw, c, (T*)pg, (T*)qy, (T*)qw, out T gradC, rows, (int)y.shape[1], torch.get_num_threads());
            return gradC;
        }
    }
}
