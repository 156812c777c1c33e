namespace EquiSharp.Steerable;

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
