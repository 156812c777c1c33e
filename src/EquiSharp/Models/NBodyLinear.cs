using EquiSharp.Graphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// The "Linear" baseline of the EGNN reference code (<c>--model linear</c>): one linear layer from
/// [x, v] (6 numbers per particle) to the predicted position (3), shared by all particles; no
/// interaction between particles. See also <see cref="NBodyLinearDynamics"/>.
/// </summary>
public sealed class NBodyLinear : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear linear;

    /// <summary>Creates the model.</summary>
    public NBodyLinear() : base(nameof(NBodyLinear))
    {
        linear = nn.Linear(6, 3);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodyLinear));
        return linear.forward(torch.cat(new[] { x, v }, 1));
    }
}
