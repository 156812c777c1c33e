namespace EquiSharp.Steerable;

/// <summary>
/// How the multiplicity channels of one tensor-product path are connected (e3nn's connection modes).
/// u, v, w index the copies of input 1, input 2 and the output.
/// </summary>
public enum ConnectionMode
{
    /// <summary>Every (u, v) pair feeds every output channel w; weights [mul1, mul2, mulOut].</summary>
    Uvw,
    /// <summary>Output channel u sums over v; weights [mul1, mul2]; mulOut = mul1.</summary>
    Uvu,
    /// <summary>Output channel v sums over u; weights [mul1, mul2]; mulOut = mul2.</summary>
    Uvv,
    /// <summary>Channels paired (u = v), mixed into w; weights [mul1, mulOut]; mul1 = mul2.</summary>
    Uuw,
    /// <summary>Channel-wise (u = v = w); weights [mul1]; all multiplicities equal.</summary>
    Uuu,
}

/// <summary>How each path's coefficient depends on the irrep dimensions (e3nn's irrep_normalization).</summary>
public enum IrrepNormalization
{
    /// <summary>Unit-variance components in, unit-variance components out: factor 2l_out + 1 (e3nn default).</summary>
    Component,
    /// <summary>Unit-norm irreps in and out: factor (2l1 + 1)(2l2 + 1).</summary>
    Norm,
    /// <summary>No factor: the bare unit-norm 3j symbols.</summary>
    None,
}

/// <summary>How the paths into one output share the variance (e3nn's path_normalization).</summary>
public enum PathNormalization
{
    /// <summary>Divide by the total number of input elements (fan-in) summed over all paths into the output (e3nn default).</summary>
    Element,
    /// <summary>Each path has unit variance on its own, divided by the number of paths into the output.</summary>
    Path,
    /// <summary>No path normalisation.</summary>
    None,
}

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
