namespace EquiSharp.Steerable;

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
