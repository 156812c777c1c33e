using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// The "linear dynamics" baseline of the EGNN reference code (<c>--model linear_vel</c>):
/// x_target = x + t · v with one learned time step t (initialised to 0.7), i.e. constant-velocity
/// motion with a fitted horizon. E(3)-equivariant and permutation-equivariant; no interaction
/// between particles.
/// </summary>
public sealed class NBodyLinearDynamics : nn.Module<GraphBatch, Tensor>
{
    private readonly Parameter time;

    /// <summary>Creates the model with t = <paramref name="initialTime"/>.</summary>
    public NBodyLinearDynamics(double initialTime = 0.7) : base(nameof(NBodyLinearDynamics))
    {
        time = nn.Parameter(torch.full(1, initialTime, dtype: ScalarType.Float32));
        RegisterComponents();
    }

    /// <summary>The learned time step t.</summary>
    public Tensor Time => time;

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodyLinearDynamics));
        return x + v * time;
    }
}
