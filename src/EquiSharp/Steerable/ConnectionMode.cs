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
