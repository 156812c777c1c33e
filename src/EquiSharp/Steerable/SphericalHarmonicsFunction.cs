using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// The autograd node of <see cref="SphericalHarmonicsKernel"/>: forward and first-order backward
/// run the kernel. When the backward pass is itself differentiated (create_graph, e.g. forces
/// F = −dE/dx in training), it recomputes the harmonics with differentiable tensor operations and
/// returns their gradient, so higher derivatives stay exact.
/// </summary>
internal sealed class SphericalHarmonicsFunction : autograd.SingleTensorFunction<SphericalHarmonicsFunction>
{
    /// <summary>The kernel and the differentiable fallback x → Y(x).</summary>
    public sealed record Setup(SphericalHarmonicsKernel Kernel, Func<Tensor, Tensor> Composite);

    /// <inheritdoc/>
    public override string Name => nameof(SphericalHarmonicsFunction);

    /// <summary>Y(x) [n, Dim] for a contiguous float32/float64 CPU x [n, 3].</summary>
    public static Tensor Apply(Setup setup, Tensor x) => apply(setup, x);

    /// <inheritdoc/>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var setup = (Setup)vars[0];
        var x = (Tensor)vars[1];
        long n = x.shape[0];
        var y = torch.empty(new[] { n, (long)setup.Kernel.Dim }, dtype: x.dtype);
        if (x.dtype == ScalarType.Float32) Forward<float>(setup.Kernel, x, y, n);
        else Forward<double>(setup.Kernel, x, y, n);
        ctx.save_for_backward(new List<Tensor> { x });
        ctx.save_data("setup", setup);
        return y;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var setup = (Setup)ctx.get_data("setup");
        var x = ctx.get_saved_variables()[0];
        if (torch.is_grad_enabled())
        {
            var y = setup.Composite(x);
            var gx = torch.autograd.grad(new[] { y }, new[] { x }, new[] { gradOutput }, retain_graph: true, create_graph: true)[0];
            return new List<Tensor> { null!, gx };
        }
        var g = gradOutput.contiguous();
        var grad = torch.empty_like(x);
        if (x.dtype == ScalarType.Float32) Backward<float>(setup.Kernel, x, g, grad, x.shape[0]);
        else Backward<double>(setup.Kernel, x, g, grad, x.shape[0]);
        return new List<Tensor> { null!, grad };
    }

    private static unsafe void Forward<T>(SphericalHarmonicsKernel kernel, Tensor x, Tensor y, long n)
        where T : unmanaged, System.Numerics.INumber<T>, System.Numerics.IRootFunctions<T>
    {
        fixed (byte* px = x.bytes, py = y.bytes)
            kernel.Forward((T*)px, (T*)py, n, torch.get_num_threads());
    }

    private static unsafe void Backward<T>(SphericalHarmonicsKernel kernel, Tensor x, Tensor g, Tensor gx, long n)
        where T : unmanaged, System.Numerics.INumber<T>, System.Numerics.IRootFunctions<T>
    {
        fixed (byte* px = x.bytes, pg = g.bytes, pgx = gx.bytes)
            kernel.Backward((T*)px, (T*)pg, (T*)pgx, n, torch.get_num_threads());
    }
}
