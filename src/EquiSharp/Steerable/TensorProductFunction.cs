using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// The autograd node of <see cref="TensorProductKernel"/>: forward and first-order backward run the
/// hand-written kernel. When the backward pass itself is being differentiated (create_graph, e.g.
/// training on forces F = −dE/dx), it recomputes the product with ordinary differentiable tensor
/// operations and returns their gradients instead, so higher derivatives stay exact.
/// </summary>
internal sealed class TensorProductFunction : autograd.SingleTensorFunction<TensorProductFunction>
{
    /// <summary>What forward needs besides the tensors.</summary>
    /// <param name="Kernel">The kernel.</param>
    /// <param name="PerRow">Weights are [n, WeightNumel] rather than shared.</param>
    /// <param name="Composite">The differentiable fallback (x1, x2, w) → out, used under create_graph.</param>
    public sealed record Setup(TensorProductKernel Kernel, bool PerRow, Func<Tensor, Tensor, Tensor?, Tensor> Composite);

    /// <inheritdoc/>
    public override string Name => nameof(TensorProductFunction);

    /// <summary>out [n, DimOut] for contiguous CPU x1 [n, Dim1], x2 [n, Dim2] and w (or null) of one floating dtype.</summary>
    public static Tensor Apply(Setup setup, Tensor x1, Tensor x2, Tensor? w) => apply(setup, x1, x2, w!);

    /// <inheritdoc/>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var setup = (Setup)vars[0];
        var (x1, x2, w) = ((Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor);
        long n = x1.shape[0];
        var output = torch.empty(new[] { n, (long)setup.Kernel.DimOut }, dtype: x1.dtype);
        if (x1.dtype == ScalarType.Float32) Forward<float>(setup, x1, x2, w, output, n);
        else Forward<double>(setup, x1, x2, w, output, n);
        ctx.save_for_backward(new List<Tensor> { x1, x2, w! });
        ctx.save_data("setup", setup);
        ctx.save_data("needs", (x1.requires_grad, x2.requires_grad, w?.requires_grad ?? false));
        return output;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var setup = (Setup)ctx.get_data("setup");
        var (n1, n2, nw) = ((bool, bool, bool))ctx.get_data("needs");
        var saved = ctx.get_saved_variables();
        var (x1, x2, w) = (saved[0], saved[1], saved.Count > 2 ? saved[2] : null);
        if (torch.is_grad_enabled()) return CompositeBackward(setup, x1, x2, w, gradOutput, n1, n2, nw);
        long n = x1.shape[0];
        var g = gradOutput.contiguous();
        var gx1 = n1 ? torch.empty_like(x1) : null;
        var gx2 = n2 ? torch.empty_like(x2) : null;
        var gw = nw ? torch.empty_like(w!) : null;
        if (x1.dtype == ScalarType.Float32) Backward<float>(setup, x1, x2, w, g, gx1, gx2, gw, n);
        else Backward<double>(setup, x1, x2, w, g, gx1, gx2, gw, n);
        return new List<Tensor> { null!, gx1!, gx2!, gw! };
    }

    /// <summary>Gradients through the differentiable composite, with a graph (create_graph).</summary>
    private static List<Tensor> CompositeBackward(Setup setup, Tensor x1, Tensor x2, Tensor? w, Tensor gradOutput, bool n1, bool n2, bool nw)
    {
        var inputs = new List<Tensor>();
        if (n1) inputs.Add(x1);
        if (n2) inputs.Add(x2);
        if (nw) inputs.Add(w!);
        var output = setup.Composite(x1, x2, w);
        var grads = torch.autograd.grad(new[] { output }, inputs, new[] { gradOutput }, retain_graph: true, create_graph: true, allow_unused: true);
        int at = 0;
        Tensor? Next(bool wanted) => wanted ? grads[at++] : null;
        var (g1, g2, gw) = (Next(n1), Next(n2), Next(nw));
        return new List<Tensor> { null!, g1!, g2!, gw! };
    }

    private static unsafe void Forward<T>(Setup setup, Tensor x1, Tensor x2, Tensor? w, Tensor output, long n) where T : unmanaged, System.Numerics.INumber<T>
    {
        fixed (byte* p1 = x1.bytes, p2 = x2.bytes, po = output.bytes)
        fixed (byte* pw = w is null ? default : w.bytes)
            setup.Kernel.Forward((T*)p1, (T*)p2, (T*)pw, setup.PerRow, (T*)po, n, torch.get_num_threads());
    }

    private static unsafe void Backward<T>(Setup setup, Tensor x1, Tensor x2, Tensor? w, Tensor g, Tensor? gx1, Tensor? gx2, Tensor? gw, long n) where T : unmanaged, System.Numerics.INumber<T>
    {
        fixed (byte* p1 = x1.bytes, p2 = x2.bytes, pg = g.bytes)
        fixed (byte* pw = w is null ? default : w.bytes)
        fixed (byte* q1 = gx1 is null ? default : gx1.bytes, q2 = gx2 is null ? default : gx2.bytes, qw = gw is null ? default : gw.bytes)
            setup.Kernel.Backward((T*)p1, (T*)p2, (T*)pw, setup.PerRow, (T*)pg, (T*)q1, (T*)q2, (T*)qw, n, torch.get_num_threads());
    }
}
