using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// A scalar activation rescaled to unit second moment (e3nn's normalize2mom): c·f with
/// E[(c f(z))²] = 1 for z ~ N(0, 1), and its symmetry (even, odd or neither), which decides how it
/// acts on odd scalars (0o).
/// </summary>
public sealed class Activation
{
    /// <summary>Wraps <paramref name="function"/>; the constant and parity are computed once in float64.</summary>
    public Activation(Func<Tensor, Tensor> function, bool normalize = true)
    {
        Function = function ?? throw new ArgumentNullException(nameof(function));
        using var scope = torch.NewDisposeScope();
        // E[f(z)²] by the trapezoid rule on [−12, 12] against the Gaussian density.
        var z = torch.linspace(-12, 12, 24001, dtype: ScalarType.Float64);
        var fz = function(z);
        var density = (-0.5 * z * z).exp() / Math.Sqrt(2 * Math.PI);
        double second = (fz * fz * density).sum().item<double>() * (24.0 / 24000);
        Constant = normalize && second > 0 ? 1 / Math.Sqrt(second) : 1;
        var probe = torch.linspace(0.1, 3, 30, dtype: ScalarType.Float64);
        var plus = function(probe);
        var minus = function(-probe);
        Parity = torch.allclose(plus, minus, 1e-9, 1e-12) ? 1 : torch.allclose(plus, -minus, 1e-9, 1e-12) ? -1 : 0;
    }

    /// <summary>The raw function.</summary>
    public Func<Tensor, Tensor> Function { get; }

    /// <summary>The second-moment constant c.</summary>
    public double Constant { get; }

    /// <summary>+1 for even functions, −1 for odd ones, 0 for neither.</summary>
    public int Parity { get; }

    /// <summary>c · f(x).</summary>
    public Tensor Apply(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var y = Function(x);
        return (Constant == 1 ? y : y * Constant).MoveToOuterDisposeScope();
    }

    /// <summary>The output irrep for the scalar input irrep <paramref name="input"/>; throws when f has no symmetry and the input is odd.</summary>
    public Irrep OutputIrrep(Irrep input)
    {
        if (input.L != 0) throw new ArgumentException($"Activations act on scalars only, got {input}.");
        if (input.P == 1) return input;
        return Parity switch
        {
            1 => new Irrep(0, 1),
            -1 => new Irrep(0, -1),
            _ => throw new ArgumentException($"An activation applied to odd scalars ({input}) must be even or odd; this one is neither."),
        };
    }

    /// <summary>Implicit conversion from a function (normalised).</summary>
    public static implicit operator Activation(Func<Tensor, Tensor> function) => new(function);
}
