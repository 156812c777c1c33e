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
        double weight = 1 - NextDecay;
        using var _ = torch.no_grad();
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

    /// <summary>Sets the average to given values (from a checkpoint) and its update count.</summary>
    /// <param name="values">One tensor per parameter, same shapes.</param>
    /// <param name="updates">The update count t to continue from.</param>
    public void Load(IReadOnlyList<Tensor> values, long updates)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count != shadows.Length)
            throw new ArgumentException($"The EMA state holds {values.Count} tensors; the model has {shadows.Length} parameters.", nameof(values));
        if (updates < 0) throw new ArgumentOutOfRangeException(nameof(updates), updates, "The update count cannot be negative.");
        using var _ = torch.no_grad();
        for (int i = 0; i < shadows.Length; i++)
        {
            if (!values[i].shape.SequenceEqual(shadows[i].shape))
                throw new ArgumentException($"EMA tensor {i} has shape [{string.Join(", ", values[i].shape)}]; the parameter has [{string.Join(", ", shadows[i].shape)}].", nameof(values));
            shadows[i].copy_(values[i]);
        }
        Updates = updates;
    }

    /// <summary>Frees the shadow copies.</summary>
    public void Dispose()
    {
        foreach (var s in shadows) s.Dispose();
    }
}
