namespace EquiSharp.Steerable;

/// <summary>
/// One path of a tensor product (e3nn's Instruction): block <see cref="In1"/> of input 1 times block
/// <see cref="In2"/> of input 2 into block <see cref="Out"/> of the output, coupled by the 3j symbol,
/// with the given connection mode, optional learnable weights and an extra path weight (scales the
/// path's variance).
/// </summary>
public sealed record TensorProductInstruction(int In1, int In2, int Out, ConnectionMode Mode, bool HasWeight = true, double PathWeight = 1.0)
{
    /// <summary>The shape of this path's weights given the multiplicities.</summary>
    public long[] WeightShape(int mul1, int mul2, int mulOut) => Mode switch
    {
        ConnectionMode.Uvw => new long[] { mul1, mul2, mulOut },
        ConnectionMode.Uvu or ConnectionMode.Uvv => new long[] { mul1, mul2 },
        ConnectionMode.Uuw => new long[] { mul1, mulOut },
        _ => new long[] { mul1 },
    };

    /// <summary>The number of input elements summed into one output element (e3nn's num_elements).</summary>
    public int FanIn(int mul1, int mul2) => Mode switch
    {
        ConnectionMode.Uvw => mul1 * mul2,
        ConnectionMode.Uvu => mul2,
        ConnectionMode.Uvv or ConnectionMode.Uuw => mul1,
        _ => 1,
    };
}
