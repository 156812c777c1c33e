using EquiSharp.Graphs;
using EquiSharp.Symmetry;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Equivariance;

/// <summary>
/// Symmetrisation of a model by averaging over a set S of orthogonal matrices:
/// <code>
/// f̄(x) = 1/|S| Σ_{R ∈ S} R⁻¹ · f(R · x)
/// </code>
/// where R · x transforms every input field by its type (<see cref="InputFieldTypes"/>) and R⁻¹ · acts on
/// the output by <see cref="OutputType"/>. Two uses:
/// <list type="bullet">
/// <item>S a finite group G (e.g. <see cref="Groups.RotationGroups.Tetrahedral"/>): f̄ is exactly equivariant
/// to every element of G, whatever f is (the sum over G is unchanged when G is multiplied by one of its
/// elements).</item>
/// <item>S random rotations (<see cref="RandomRotations"/>), at test time: for a model that is equivariant
/// only approximately (a grid-based one such as PONITA, whose grid is not invariant under most rotations)
/// the average cancels part of the approximation error. It costs |S| forward passes.</item>
/// </list>
/// For an exactly equivariant f the average equals f(x) up to round-off.
/// </summary>
public sealed class RotationAveraging : nn.Module<GraphBatch, Tensor>
{
    private readonly nn.Module<GraphBatch, Tensor> model;

    /// <summary>Wraps <paramref name="model"/>.</summary>
    /// <param name="model">The model f; its parameters stay its own (this module adds none).</param>
    /// <param name="rotations">S as [K, d, d] orthogonal matrices (K ≥ 1; reflections allowed), any floating dtype;
    /// stored as float64 and cast to the batch's dtype at each call.</param>
    /// <param name="outputType">How f's output transforms (e.g. <see cref="FieldType.Position"/> for predicted positions,
    /// <see cref="FieldType.Invariant"/> for energies).</param>
    /// <param name="inputs">How the batch's fields transform (default: positions and node vectors).</param>
    /// <exception cref="ArgumentException">When <paramref name="rotations"/> is not [K, d, d] with K ≥ 1, or a matrix is not orthogonal (to 1e-6).</exception>
    public RotationAveraging(nn.Module<GraphBatch, Tensor> model, Tensor rotations, FieldType outputType, InputFieldTypes? inputs = null)
        : base(nameof(RotationAveraging))
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(rotations);
        OutputType = outputType ?? throw new ArgumentNullException(nameof(outputType));
        Inputs = inputs ?? new InputFieldTypes();
        if (rotations.dim() != 3 || rotations.shape[0] < 1 || rotations.shape[1] != rotations.shape[2] || rotations.shape[1] < 1)
            throw new ArgumentException($"RotationAveraging: rotations have shape {GraphValidation.Shape(rotations)}; expected [K ≥ 1, d, d].", nameof(rotations));
        if (!rotations.is_floating_point())
            throw new ArgumentException($"RotationAveraging: rotations have dtype {rotations.dtype}; expected a floating dtype.", nameof(rotations));
        using (torch.no_grad())
        {
            var r = rotations.detach().to(ScalarType.Float64, torch.CPU);
            long d = r.shape[1];
            double error = (r.matmul(r.transpose(1, 2)) - torch.eye(d, dtype: ScalarType.Float64)).abs().max().item<double>();
            if (!(error <= 1e-6))
                throw new ArgumentException($"RotationAveraging: the matrices are not orthogonal (max |R Rᵀ − I| = {error:E2}).", nameof(rotations));
            Rotations = r.contiguous().DetachFromDisposeScope();
        }
        RegisterComponents();
    }

    /// <summary>S [K, d, d], float64 on the CPU.</summary>
    public Tensor Rotations { get; }

    /// <summary>|S|: forward passes per call.</summary>
    public int Count => (int)Rotations.shape[0];

    /// <summary>How the output transforms.</summary>
    public FieldType OutputType { get; }

    /// <summary>How the input fields transform.</summary>
    public InputFieldTypes Inputs { get; }

    /// <summary>The wrapped model.</summary>
    public nn.Module<GraphBatch, Tensor> Model => model;

    /// <summary>
    /// The identity followed by <paramref name="count"/> − 1 Haar-random rotations in SO(<paramref name="dim"/>)
    /// from a generator seeded with <paramref name="seed"/>: [count, dim, dim] float64, the same for the same arguments.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="count"/> or <paramref name="dim"/> is below 1.</exception>
    public static Tensor RandomRotations(int count, int dim = 3, long seed = 1)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "At least one rotation is needed.");
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "The dimension must be at least 1.");
        using var scope = torch.NewDisposeScope();
        var identity = torch.eye(dim, dtype: ScalarType.Float64).unsqueeze(0);
        if (count == 1) return identity.MoveToOuterDisposeScope();
        using var generator = new Generator((ulong)seed);
        var random = Symmetry.Rotations.RandomSpecialOrthogonal(dim, count - 1, generator, ScalarType.Float64);
        return torch.cat(new[] { identity, random }, 0).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(GraphBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long d = Rotations.shape[1];
        if (batch.Positions.dim() != 2 || batch.Positions.shape[1] != d)
            throw new ArgumentException($"RotationAveraging: positions have shape {GraphValidation.Shape(batch.Positions)}; the rotations are {d}×{d}.", nameof(batch));
        var rotations = Rotations.to(batch.Positions.dtype, batch.Positions.device);
        Tensor? sum = null;
        for (int k = 0; k < Count; k++)
        {
            using var scope = torch.NewDisposeScope();
            var r = rotations[k];
            using var rotated = Inputs.Apply(batch, new EuclideanTransform(r));
            var back = OutputType.Apply(model.forward(rotated), new EuclideanTransform(r.t()));
            var next = (sum is null ? back : sum + back).MoveToOuterDisposeScope();
            sum?.Dispose(); // autograd keeps what it needs; the handle of the partial sum is not needed
            sum = next;
        }
        var mean = sum! / Count;
        sum!.Dispose();
        return mean;
    }
}
