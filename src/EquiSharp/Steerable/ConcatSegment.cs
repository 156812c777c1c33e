namespace EquiSharp.Steerable;

/// <summary>
/// <see cref="ConcatSegment.Mul"/> channels of block <see cref="ConcatSegment.Block"/> of input
/// <see cref="ConcatSegment.Input"/> of an <see cref="IrrepsConcat"/>, placed from channel
/// <see cref="ConcatSegment.Channel"/> of their output block.
/// </summary>
public readonly record struct ConcatSegment(int Input, int Block, int Mul, int Channel);
