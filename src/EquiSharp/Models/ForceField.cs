using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// Energies and forces from an energy model: E = model(batch) [G, 1] and F = −∂E/∂x by autograd.
/// Returns [N, 4]: column 0 is the energy of each atom's molecule (repeated on its atoms), columns 1–3
/// the force on the atom. In training mode the gradient graph is kept (create_graph) so that a loss on
/// the forces can be differentiated again (double backward); in eval mode it is not. Gradients are
/// enabled inside even under no_grad, since forces need them.
/// </summary>
public sealed class ForceField : nn.Module<GraphBatch, Tensor>
{
    private readonly nn.Module<GraphBatch, Tensor> energy;

    /// <summary>Wraps an energy model with one graph output.</summary>
    public ForceField(nn.Module<GraphBatch, Tensor> energyModel) : base(nameof(ForceField))
    {
        energy = energyModel ?? throw new ArgumentNullException(nameof(energyModel));
        RegisterComponents();
    }

    /// <summary>The energy model.</summary>
    public nn.Module<GraphBatch, Tensor> Energy => energy;

    /// <summary>The energy [G] and forces [N, 3] of a batch.</summary>
    public (Tensor Energy, Tensor Forces) EnergyAndForces(GraphBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var grad = torch.enable_grad();
        var x = batch.Positions.detach().requires_grad_(true);
        var e = energy.forward(batch with { Positions = x });
        if (e.dim() != 2 || e.shape[0] != batch.NumGraphs || e.shape[1] != 1)
            throw new GraphValidationException($"ForceField: the energy model returned shape {GraphValidation.Shape(e)}; expected [G = {batch.NumGraphs}, 1].");
        bool keep = training;
        var dEdx = torch.autograd.grad(new[] { e.sum() }, new[] { x }, retain_graph: keep, create_graph: keep)[0];
        var energies = e.squeeze(1);
        return (keep ? energies : energies.detach(), keep ? -dEdx : -dEdx.detach());
    }

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (e, f) = EnergyAndForces(batch);
        return torch.cat(new[] { e.index_select(0, batch.Batch).unsqueeze(1), f }, 1);
    }
}
