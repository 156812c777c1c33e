namespace EquiSharp.Graphs;

/// <summary>A graph or batch whose tensors do not fit together; the message names the field and the shapes.</summary>
public sealed class GraphValidationException(string message) : ArgumentException(message);
