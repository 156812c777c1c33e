using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// Gaussian radial basis: exp(−(r − μ_k)² / (2σ²)) with <c>count</c> centres μ_k evenly spaced on
/// [start, cutoff] and σ the spacing. r [...] → [..., count].
/// </summary>
public sealed class GaussianBasis : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the basis (count ≥ 2, cutoff &gt; start).</summary>
    public GaussianBasis(int count, double cutoff, double start = 0) : base(nameof(GaussianBasis))
    {
        if (count < 2) throw new ArgumentOutOfRangeException(nameof(count), count, "At least two basis functions are needed.");
        if (!(cutoff > start)) throw new ArgumentOutOfRangeException(nameof(cutoff), cutoff, "cutoff must exceed start.");
        Count = count; Cutoff = cutoff; Start = start;
        Width = (cutoff - start) / (count - 1);
        RegisterComponents();
    }

    /// <summary>Number of basis functions.</summary>
    public int Count { get; }

    /// <summary>The last centre.</summary>
    public double Cutoff { get; }

    /// <summary>The first centre.</summary>
    public double Start { get; }

    /// <summary>σ, the spacing of the centres.</summary>
    public double Width { get; }

    /// <summary>r [...] → [..., Count].</summary>
    public override Tensor forward(Tensor r)
    {
        RadialChecks.CheckDistances(r);
        using var scope = torch.NewDisposeScope();
        var centres = torch.linspace(Start, Cutoff, Count, dtype: r.dtype, device: r.device);
        var z = (r.unsqueeze(-1) - centres) / Width;
        return (-0.5 * z * z).exp().MoveToOuterDisposeScope();
    }
}
