using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Training;

/// <summary>
/// An exponential moving average (Polyak averaging) of a model's parameters, updated after every
/// optimiser step: s ← d_t s + (1 − d_t) θ with d_t = min(d, (1 + t) / (10 + t)) after t earlier
/// updates (the warm-up of TensorFlow's <c>ExponentialMovingAverage</c> with <c>num_updates</c>, so
/// the average is not dominated by the initial weights early in training). The averaged weights usually
/// generalise better than the last iterate; <see cref="Trainer"/> validates, tests and keeps them as the
/// best weights when <see cref="TrainerOptions.EmaDecay"/> is set.
/// </summary>
/// <remarks>Buffers (e.g. normalisation statistics) are not averaged: <see cref="Swap"/> exchanges
/// parameters only. The shadow copies live outside every dispose scope and are freed by <see cref="Dispose"/>.</remarks>
public sealed class ExponentialMovingAverage : IDisposable
{
    private readonly Parameter[] parameters;
    private readonly Tensor[] shadows;

    /// <summary>Starts the average at the model's current parameters.</summary>
    /// <param name="model">The model whose parameters are averaged (in place of nothing: the model is never changed except by <see cref="Swap"/>).</param>
    /// <param name="decay">d in (0, 1), e.g. 0.999.</param>
    public ExponentialMovingAverage(nn.Module model, double decay)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(decay > 0 && decay < 1))
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "The EMA decay must lie in (0, 1).");
        Decay = decay;
        parameters = model.parameters().ToArray();
        using var _ = torch.no_grad();
        shadows = parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
    }

    /// <summary>The decay d.</summary>
    public double Decay { get; }

    /// <summary>Number of updates so far (t).</summary>
    public long Updates { get; private set; }

    /// <summary>The decay used by the next update: min(d, (1 + t) / (10 + t)).</summary>
    public double NextDecay => Math.Min(Decay, (1.0 + Updates) / (10.0 + Updates));

    /// <summary>The averaged values, one per parameter in <c>model.parameters()</c> order (do not modify).</summary>
    public IReadOnlyList<Tensor> Shadows => shadows;

    /// <summary>Folds the current parameters into the average (call after each optimiser step).</summary>
    public void Update()
    {
        using var _ = torch.no_grad();
        using var weight = torch.tensor(1 - NextDecay); // one 0-d tensor per update, not an implicit one per parameter
        for (int i = 0; i < shadows.Length; i++) shadows[i].lerp_(parameters[i], weight);
        Updates++;
    }

    /// <summary>
    /// Exchanges the model's parameters with the averaged ones (in place). Call it twice to restore:
    /// <c>Swap(); evaluate; Swap();</c>.
    /// </summary>
    public void Swap()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        for (int i = 0; i < shadows.Length; i++)
        {
            var current = parameters[i].clone();
            parameters[i].copy_(shadows[i]);
            shadows[i].copy_(current);
        }
    }

    /// <summary>The averaged weights in <c>Module.save</c> format (the model's buffers as they are), for a checkpoint.</summary>
    /// <param name="model">The model this average was created for.</param>
    public byte[] Serialize(nn.Module model)
    {
        Swap();
        try { return Checkpoint.SerializeModule(model); }
        finally { Swap(); }
    }

    /// <summary>Sets the average to weights written by <see cref="Serialize"/> and continues from update count <paramref name="updates"/>; the model keeps its own weights.</summary>
    /// <param name="model">The model this average was created for.</param>
    /// <param name="state">The averaged weights.</param>
    /// <param name="updates">The update count t to continue from.</param>
    public void Restore(nn.Module model, byte[] state, long updates)
    {
        if (updates < 0) throw new ArgumentOutOfRangeException(nameof(updates), updates, "The update count cannot be negative.");
        Swap();
        try { Checkpoint.DeserializeModule(model, state); }
        finally { Swap(); }
        Updates = updates;
    }

    /// <summary>Frees the shadow copies.</summary>
    public void Dispose()
    {
        foreach (var s in shadows) s.Dispose();
    }
}
