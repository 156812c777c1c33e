using EquiSharp.Graphs;
using EquiSharp.GroupConv;
using EquiSharp.Groups;
using EquiSharp.Symmetry;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// LieConv for the charged N-body task: each particle is lifted to SE(3) elements (R_s, x_i) with
/// <see cref="StabiliserSamples"/> rotations R_s of its stabiliser SO(3); each lifted point carries the
/// invariant features [q_i, R_sᵀ v_i, |v_i|]; <see cref="NBodyModelOptions.Layers"/> residual
/// <see cref="LieConv"/> layers (SiLU) on all sample pairs of the batch's edges and of each particle, with
/// kernel input [Log(g_a⁻¹ g_b), q_a q_b]; a linear head gives a vector u in each local frame and the
/// displacement is the sample mean of R_s u. Returns x + Δx [N, 3].
/// </summary>
/// <remarks>
/// Exactly translation equivariant. For samples S and a rotation Q, f(Qx; S) = Q f(x; Qᵀ S) holds exactly,
/// so with Haar-random samples (training, and evaluation with a fixed-seed generator) the model is rotation
/// equivariant in distribution; with the samples a finite rotation group H (<see cref="FixedSamples"/>)
/// it is exactly equivariant to the rotations in H.
/// </remarks>
public sealed class NBodyLieConv : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear embedding;
    private readonly ModuleList<LieConv> layers;
    private readonly Linear head;

    /// <summary>Creates the model.</summary>
    /// <param name="options">Hidden width and layers.</param>
    /// <param name="stabiliserSamples">Rotations sampled per particle (4).</param>
    public NBodyLieConv(NBodyModelOptions? options = null, int stabiliserSamples = 4) : base(nameof(NBodyLieConv))
    {
        Options = options ?? new NBodyModelOptions();
        Options.Validate();
        StabiliserSamples = stabiliserSamples >= 1 ? stabiliserSamples
            : throw new ArgumentOutOfRangeException(nameof(stabiliserSamples), stabiliserSamples, "Must be positive.");
        int c = Options.Hidden;
        embedding = nn.Linear(5, c);
        layers = nn.ModuleList(Enumerable.Range(0, Options.Layers).Select(k => new LieConv(SE3.Instance.AlgebraDimension + 1, c, c, 32, $"conv{k}")).ToArray());
        head = nn.Linear(c, 3);
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public NBodyModelOptions Options { get; }

    /// <summary>Stabiliser samples per particle (Haar random) when <see cref="FixedSamples"/> is null.</summary>
    public int StabiliserSamples { get; }

    /// <summary>Fixed stabiliser samples [S, 3, 3] used instead of random ones (e.g. <see cref="RotationGroups.Tetrahedral"/>); null = random.</summary>
    public Tensor? FixedSamples { get; set; }

    /// <summary>Seed of the generator of the evaluation-mode samples (the same samples at every evaluation).</summary>
    public ulong EvaluationSeed { get; set; } = 12345;

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var x = batch.Positions;
        Tensor samples;
        if (FixedSamples is not null) samples = FixedSamples.to(x.dtype, x.device);
        else if (training) samples = Rotations.RandomSO3(StabiliserSamples, dtype: x.dtype, device: x.device);
        else samples = Rotations.RandomSO3(StabiliserSamples, new Generator(EvaluationSeed), x.dtype, x.device);
        return Predict(batch, samples);
    }

    /// <summary>The prediction with explicit stabiliser samples [S, 3, 3] (rotations).</summary>
    public Tensor Predict(GraphBatch batch, Tensor samples)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodyLieConv));
        var q = NBodyModels.Charges(batch, nameof(NBodyLieConv));
        if (samples.dim() != 3 || samples.shape[1] != 3 || samples.shape[2] != 3)
            throw new GraphValidationException($"{nameof(NBodyLieConv)}: stabiliser samples have shape {GraphValidation.Shape(samples)}; expected [S, 3, 3].");
        long n = x.shape[0], s = samples.shape[0];
        var group = SE3.Instance;
        var (elements, orbits) = group.Lift(x, samples);                                  // [N, S, 4, 4]
        elements = elements.reshape(n * s, 4, 4);
        var r = samples.unsqueeze(0).expand(n, s, 3, 3);                                  // R_s per lifted point
        var localV = r.transpose(-1, -2).matmul(v.unsqueeze(1).unsqueeze(-1)).squeeze(-1); // [N, S, 3]
        var features = torch.cat(new[]
        {
            q.unsqueeze(1).expand(n, s, 1), localV, v.norm(1, keepdim: true).unsqueeze(1).expand(n, s, 1),
        }, 2).reshape(n * s, 5);
        var (pairs, _) = LieConv.Pairs(batch.EdgeIndex, n, s);
        var liftedCharge = q.unsqueeze(1).expand(n, s, 1).reshape(n * s, 1);
        var chargeProduct = liftedCharge.index_select(0, pairs[0]) * liftedCharge.index_select(0, pairs[1]);
        var pairInput = LieConv.PairInput(group, elements, orbits.repeat_interleave(s, 0), pairs, chargeProduct);
        var h = embedding.forward(features);
        foreach (var layer in layers)
            h = h + nn.functional.silu(layer.forward(h, pairInput, pairs));
        var local = head.forward(h).view(n, s, 3, 1);
        var displacement = r.matmul(local).squeeze(-1).mean(new long[] { 1 });
        return x + displacement;
    }
}
