namespace EquiSharp.Aggregation;

/// <summary>Permutation-invariant reductions of the messages arriving at a node.</summary>
public enum Aggregation
{
    /// <summary>Sum of the incoming messages (0 for isolated nodes).</summary>
    Sum,

    /// <summary>Mean of the incoming messages (0 for isolated nodes).</summary>
    Mean,

    /// <summary>Per-channel maximum of the incoming messages (0 for isolated nodes).</summary>
    Max,

    /// <summary>Per-channel minimum of the incoming messages (0 for isolated nodes).</summary>
    Min,

    /// <summary>Per-channel softmax-weighted sum: SUM_j softmax_j(m_ij) * m_ij (0 for isolated nodes).</summary>
    Softmax,
}
