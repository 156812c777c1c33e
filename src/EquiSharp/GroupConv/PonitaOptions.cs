namespace EquiSharp.GroupConv;

/// <summary>Hyper-parameters of <see cref="Ponita"/> (defaults: PONITA's N-body settings).</summary>
/// <param name="InputScalars">Scalar input channels per node S_in (≥ 0).</param>
/// <param name="InputVectors">Vector input channels per node V_in (≥ 0; S_in + V_in ≥ 1).</param>
/// <param name="OutputScalars">Scalar outputs per node (≥ 0).</param>
/// <param name="OutputVectors">Vector outputs per node (≥ 0; at least one output in all).</param>
/// <param name="Hidden">Channels C of the hidden features on the grid (128).</param>
/// <param name="Layers">ConvNeXt blocks (5).</param>
/// <param name="Degree">Polynomial degree of the basis input, counted as in the reference implementation: the
/// invariants and <c>Degree</c> successive outer products with them, i.e. all monomials of degrees 1..Degree + 1 (3).</param>
/// <param name="BasisDimension">Width of the basis networks' output, shared by all layers (256).</param>
/// <param name="Widening">Widening factor of the ConvNeXt MLP (4).</param>
/// <param name="LayerScale">Initial ConvNeXt layer scale (1e-6; ≤ 0 disables it).</param>
/// <param name="ReadoutAllLayers">Average the readouts of all layers (true) or read out the last one only.</param>
/// <param name="SelfLoops">Add a self-loop to every node (as PONITA does): the term k_s(0) f_i is computed once per
/// layer and added to the aggregate, which equals adding the edges (i, i) but costs no gather, scatter or per-edge kernel.</param>
/// <param name="Cutoff">Optional radius c: the spatial basis is multiplied by the cosine cutoff of |x_j − x_i| (null: none).</param>
/// <param name="Calibrate">Rescale the kernels once, at the first forward in training mode, as the reference implementation
/// does: each layer's spatial kernel by std(input)/std(spatial output) and its orientation kernel by
/// std(spatial output)/std(orientation output), measured on that batch (<see cref="Ponita.Calibrated"/>; saved with the weights).</param>
public sealed record PonitaOptions(int InputScalars, int InputVectors, int OutputScalars, int OutputVectors,
    int Hidden = 128, int Layers = 5, int Degree = 3, int BasisDimension = 256, int Widening = 4, double LayerScale = 1e-6,
    bool ReadoutAllLayers = true, bool SelfLoops = true, double? Cutoff = null, bool Calibrate = false)
{
    /// <summary>Checks the values; the error names the field.</summary>
    public void Validate()
    {
        static void Positive(int v, string name)
        {
            if (v < 1) throw new ArgumentOutOfRangeException(name, v, "Must be positive.");
        }
        static void NonNegative(int v, string name)
        {
            if (v < 0) throw new ArgumentOutOfRangeException(name, v, "Must be ≥ 0.");
        }
        NonNegative(InputScalars, nameof(InputScalars));
        NonNegative(InputVectors, nameof(InputVectors));
        NonNegative(OutputScalars, nameof(OutputScalars));
        NonNegative(OutputVectors, nameof(OutputVectors));
        if (InputScalars + InputVectors < 1) throw new ArgumentException("PONITA needs at least one scalar or vector input channel.", nameof(InputScalars));
        if (OutputScalars + OutputVectors < 1) throw new ArgumentException("PONITA needs at least one scalar or vector output.", nameof(OutputScalars));
        Positive(Hidden, nameof(Hidden));
        Positive(Layers, nameof(Layers));
        Positive(Degree, nameof(Degree));
        Positive(BasisDimension, nameof(BasisDimension));
        Positive(Widening, nameof(Widening));
        if (!double.IsFinite(LayerScale)) throw new ArgumentOutOfRangeException(nameof(LayerScale), LayerScale, "Must be finite.");
        if (Cutoff is double c && !(double.IsFinite(c) && c > 0)) throw new ArgumentOutOfRangeException(nameof(Cutoff), c, "Must be a positive finite radius.");
    }
}
