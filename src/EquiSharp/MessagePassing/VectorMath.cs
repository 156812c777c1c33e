using System.Numerics;
using System.Runtime.CompilerServices;

namespace EquiSharp.MessagePassing;

/// <summary>Element-wise functions on <see cref="Vector{T}"/> for the fused CPU kernels (float and double).</summary>
internal static class VectorMath
{
    /// <summary>e^x lane by lane (the runtime's vectorised exp).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Exp<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            var y = Vector.Exp(Unsafe.As<Vector<T>, Vector<float>>(ref x));
            return Unsafe.As<Vector<float>, Vector<T>>(ref y);
        }
        if (typeof(T) == typeof(double))
        {
            var y = Vector.Exp(Unsafe.As<Vector<T>, Vector<double>>(ref x));
            return Unsafe.As<Vector<double>, Vector<T>>(ref y);
        }
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>The logistic function 1 / (1 + e^−z) lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Sigmoid<T>(Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector<T>.One / (Vector<T>.One + Exp(-z));

    /// <summary>The logistic function of one value (the kernels' tails).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sigmoid<T>(T z) where T : IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-z));

    /// <summary>SiLU'(z) = σ(z) (1 + z (1 − σ(z))) from z and its sigmoid s, lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> SiluDerivative<T>(Vector<T> z, Vector<T> s) where T : unmanaged, IFloatingPointIeee754<T> =>
        s + z * s * (Vector<T>.One - s);

    /// <summary>SiLU'(z) from z and its sigmoid s, for one value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T SiluDerivative<T>(T z, T s) where T : IFloatingPointIeee754<T> => s + z * s * (T.One - s);
}
