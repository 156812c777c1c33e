namespace EquiSharp.Datasets.NBody;

/// <summary>Which random stream an N-body data set is simulated from.</summary>
public enum NBodyRandomStream
{
    /// <summary>
    /// EquiSharp's own: one SplitMix64 stream per trajectory (parallel; a smaller data set is a
    /// prefix of a larger one). Same distribution as the reference, different numbers.
    /// </summary>
    SplitMix64 = 0,

    /// <summary>
    /// The official EGNN generator's NumPy legacy stream (<see cref="NBodyNumPyReference"/>): with
    /// seed 43 the charges and initial states of the data set EGNN, SEGNN and PONITA reported on.
    /// </summary>
    NumPyReference = 1,
}
