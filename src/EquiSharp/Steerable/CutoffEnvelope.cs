using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>A cutoff envelope as a module (r [...] → [...]).</summary>
public sealed class CutoffEnvelope : nn.Module<Tensor, Tensor>
{
    private readonly Func<Tensor, Tensor> _f;

    private CutoffEnvelope(string name, Func<Tensor, Tensor> f) : base(name)
    {
        _f = f;
        RegisterComponents();
    }

    /// <summary>The cosine envelope (<see cref="Cutoffs.Cosine"/>).</summary>
    public static CutoffEnvelope Cosine(double cutoff) => new("CosineCutoff", r => Cutoffs.Cosine(r, cutoff));

    /// <summary>The polynomial envelope (<see cref="Cutoffs.Polynomial"/>).</summary>
    public static CutoffEnvelope Polynomial(double cutoff, int p = 6) => new("PolynomialCutoff", r => Cutoffs.Polynomial(r, cutoff, p));

    /// <summary>f(r).</summary>
    public override Tensor forward(Tensor r) => _f(r);
}
