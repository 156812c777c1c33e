using EquiSharp.MessagePassing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.MessagePassing;

/// <summary>Comparisons of EGNN's fused CPU kernels with the libtorch composite they replace.</summary>
internal static class FusedKernelAssertions
{
    /// <summary>Runs <paramref name="f"/> with <see cref="EgnnLayer.UseFusedKernels"/> off.</summary>
    public static T WithoutFusedKernels<T>(Func<T> f)
    {
        try
        {
            EgnnLayer.UseFusedKernels = false;
            return f();
        }
        finally { EgnnLayer.UseFusedKernels = true; }
    }

    /// <summary>Runs <paramref name="body"/> with <paramref name="threads"/> intra-op threads (the kernels split rows by that count).</summary>
    public static void WithThreads(int threads, Action body)
    {
        int before = torch.get_num_threads();
        torch.set_num_threads(threads);
        try { body(); }
        finally { torch.set_num_threads(before); }
    }

    public static void AssertClose(Tensor expected, Tensor actual, double tolerance, string what) =>
        Assert.True(torch.allclose(expected, actual, rtol: tolerance, atol: tolerance),
            $"{what}: max |diff| {(expected - actual).abs().max().to_type(ScalarType.Float64).item<double>()}");

    /// <summary>The gradients of every parameter of <paramref name="model"/> after <paramref name="backward"/> agree with and without the kernels.</summary>
    public static void AssertSameGradients(nn.Module model, Action backward, double tolerance)
    {
        Tensor[] Run()
        {
            model.zero_grad();
            backward();
            return model.parameters().Select(q => q.grad is { } gq ? gq.clone() : torch.zeros_like(q)).ToArray();
        }
        var composite = WithoutFusedKernels(Run);
        var fused = Run();
        for (int i = 0; i < fused.Length; i++) AssertClose(composite[i], fused[i], tolerance, $"gradient {i}");
    }
}
