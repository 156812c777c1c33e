using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.GroupConv;

/// <summary>
/// All monomials of degree 1..<see cref="Degree"/> of the last axis of the input, as repeated outer
/// products: [..., k] → [..., k + k² + … + k^degree] (ordered monomials, so mixed terms repeat). The
/// input to PONITA's basis network.
/// </summary>
public sealed class PolynomialFeatures : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the map.</summary>
    /// <param name="degree">Highest degree (≥ 1).</param>
    public PolynomialFeatures(int degree) : base(nameof(PolynomialFeatures))
    {
        Degree = degree >= 1 ? degree : throw new ArgumentOutOfRangeException(nameof(degree), degree, "The degree must be at least 1.");
        RegisterComponents();
    }

    /// <summary>Highest degree.</summary>
    public int Degree { get; }

    /// <summary>Output width for an input width <paramref name="k"/>.</summary>
    public long OutputDimension(long k)
    {
        long total = 0, power = 1;
        for (int d = 1; d <= Degree; d++) total += power *= k;
        return total;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var terms = new List<Tensor>(Degree) { x };
        for (int d = 2; d <= Degree; d++)
            terms.Add((terms[^1].unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2));
        return terms.Count == 1 ? x : torch.cat(terms, -1);
    }
}
