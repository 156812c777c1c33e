namespace EquiSharp.Steerable;

/// <summary>Normalisations of the real spherical harmonics (e3nn's names); on the unit sphere:</summary>
public enum SphericalHarmonicsNormalization
{
    /// <summary>Each component has unit mean square over the sphere: ‖Y_l(x)‖² = 2l + 1 for unit x (e3nn "component").</summary>
    Component,

    /// <summary>‖Y_l(x)‖ = 1 for unit x (e3nn "norm").</summary>
    Norm,

    /// <summary>Orthonormal in L²(S²): ∫ Y_lm Y_l'm' dΩ = δ δ, so ‖Y_l(x)‖² = (2l + 1)/(4π) (e3nn "integral").</summary>
    Integral,
}
