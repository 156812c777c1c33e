using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Tests.TestUtilities;

/// <summary>Central finite-difference gradient checks in float64.</summary>
internal static class FiniteDifferences
{
    /// <summary>
    /// Compares autograd's gradient of L(x) = SUM(f(x) * w) (w fixed random weights) with central
    /// differences for every entry of x; returns the largest absolute difference.
    /// </summary>
    public static double MaxGradientError(Func<Tensor, Tensor> f, Tensor x, double eps = 1e-6, long seed = 7)
    {
        if (x.dtype != ScalarType.Float64) throw new ArgumentException("Use float64 for finite differences.");
        using var scope = torch.NewDisposeScope();
        var input = x.detach().clone().requires_grad_(true);
        var y = f(input);
        var gen = new torch.Generator((ulong)seed);
        var w = torch.randn(y.shape, dtype: ScalarType.Float64, generator: gen);
        var loss = (y * w).sum();
        var analytic = torch.autograd.grad(new[] { loss }, new[] { input })[0].detach().flatten();

        var flat = x.detach().clone().flatten();
        long n = flat.shape[0];
        var numeric = new double[n];
        using (torch.no_grad())
        {
            for (long k = 0; k < n; k++)
            {
                double v = flat[k].item<double>();
                flat[k] = v + eps;
                double plus = (f(flat.view(x.shape)) * w).sum().item<double>();
                flat[k] = v - eps;
                double minus = (f(flat.view(x.shape)) * w).sum().item<double>();
                flat[k] = v;
                numeric[k] = (plus - minus) / (2 * eps);
            }
        }
        var num = torch.tensor(numeric);
        return (num - analytic).abs().max().item<double>();
    }
}
