namespace EquiSharp.Steerable;

/// <summary>
/// The fully connected tensor product (e3nn's FullyConnectedTensorProduct): a weighted uvw path from
/// every pair of input blocks to every output block their product contains.
/// </summary>
public sealed class FullyConnectedTensorProduct : TensorProduct
{
    /// <summary>Creates the fully connected tensor product.</summary>
    public FullyConnectedTensorProduct(Irreps irrepsIn1, Irreps irrepsIn2, Irreps irrepsOut,
        IrrepNormalization irrepNormalization = IrrepNormalization.Component, PathNormalization pathNormalization = PathNormalization.Element,
        bool internalWeights = true)
        : base(irrepsIn1, irrepsIn2, irrepsOut, Paths(irrepsIn1, irrepsIn2, irrepsOut), irrepNormalization, pathNormalization, internalWeights)
    {
    }

    /// <summary>The uvw paths of the fully connected product, in e3nn's order (in1, in2, out).</summary>
    public static IEnumerable<TensorProductInstruction> Paths(Irreps irrepsIn1, Irreps irrepsIn2, Irreps irrepsOut)
    {
        ArgumentNullException.ThrowIfNull(irrepsIn1);
        ArgumentNullException.ThrowIfNull(irrepsIn2);
        ArgumentNullException.ThrowIfNull(irrepsOut);
        for (int i1 = 0; i1 < irrepsIn1.Count; i1++)
            for (int i2 = 0; i2 < irrepsIn2.Count; i2++)
                for (int o = 0; o < irrepsOut.Count; o++)
                    if (irrepsIn1[i1].Irrep.CanCouple(irrepsIn2[i2].Irrep, irrepsOut[o].Irrep))
                        yield return new TensorProductInstruction(i1, i2, o, ConnectionMode.Uvw);
    }
}
