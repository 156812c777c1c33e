using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.IO;

/// <summary>Element types EquiSharp reads and writes in .npy files (always little-endian, C order).</summary>
public enum NpyDType
{
    /// <summary><c>&lt;f8</c>: IEEE double.</summary>
    Float64,
    /// <summary><c>&lt;f4</c>: IEEE single.</summary>
    Float32,
    /// <summary><c>&lt;i8</c>: signed 64-bit integer.</summary>
    Int64,
    /// <summary><c>&lt;i4</c>: signed 32-bit integer.</summary>
    Int32,
    /// <summary><c>|u1</c>: unsigned byte.</summary>
    UInt8,
    /// <summary><c>|b1</c>: boolean stored as one byte (0 or 1).</summary>
    Bool,
}

/// <summary>
/// An n-dimensional array as stored in a NumPy .npy file: element type, shape (C order) and a
/// flat managed buffer (<c>double[]</c>, <c>float[]</c>, <c>long[]</c>, <c>int[]</c>, <c>byte[]</c>
/// or <c>bool[]</c>, matching <see cref="DType"/>). A 0-dimensional array (shape <c>()</c>) holds one element.
/// </summary>
public sealed class NpyArray
{
    /// <summary>Creates an array after checking that the buffer type matches <paramref name="dtype"/> and its length the shape.</summary>
    /// <exception cref="ArgumentException">Buffer type or length do not match.</exception>
    public NpyArray(NpyDType dtype, long[] shape, Array data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (data.GetType() != ClrType(dtype).MakeArrayType())
            throw new ArgumentException($"NpyArray: dtype {dtype} needs a {ClrType(dtype).Name}[] buffer, got {data.GetType().Name}.", nameof(data));
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"NpyArray: shape ({string.Join(", ", shape)}) has a negative dimension.", nameof(shape));
        long count = ElementCount(shape);
        if (data.LongLength != count)
            throw new ArgumentException($"NpyArray: shape ({string.Join(", ", shape)}) needs {count} elements, the buffer has {data.LongLength}.", nameof(data));
        DType = dtype;
        Shape = (long[])shape.Clone();
        Data = data;
    }

    /// <summary>Element type.</summary>
    public NpyDType DType { get; }

    /// <summary>Shape, C (row-major) order. Empty for a scalar.</summary>
    public long[] Shape { get; }

    /// <summary>Flat row-major buffer; its element type matches <see cref="DType"/>.</summary>
    public Array Data { get; }

    /// <summary>Number of elements (the product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long Length => Data.LongLength;

    /// <summary>Shape as NumPy prints it, e.g. <c>(1000, 21, 3)</c>.</summary>
    public string ShapeString => Shape.Length == 1 ? $"({Shape[0]},)" : $"({string.Join(", ", Shape)})";

    /// <summary>A float64 array.</summary>
    public static NpyArray Of(double[] data, params long[] shape) => new(NpyDType.Float64, shape, data);
    /// <summary>A float32 array.</summary>
    public static NpyArray Of(float[] data, params long[] shape) => new(NpyDType.Float32, shape, data);
    /// <summary>An int64 array.</summary>
    public static NpyArray Of(long[] data, params long[] shape) => new(NpyDType.Int64, shape, data);
    /// <summary>An int32 array.</summary>
    public static NpyArray Of(int[] data, params long[] shape) => new(NpyDType.Int32, shape, data);
    /// <summary>A uint8 array.</summary>
    public static NpyArray Of(byte[] data, params long[] shape) => new(NpyDType.UInt8, shape, data);
    /// <summary>A bool array.</summary>
    public static NpyArray Of(bool[] data, params long[] shape) => new(NpyDType.Bool, shape, data);

    /// <summary>A 0-dimensional float64 array.</summary>
    public static NpyArray Scalar(double value) => new(NpyDType.Float64, Array.Empty<long>(), new[] { value });
    /// <summary>A 0-dimensional int64 array.</summary>
    public static NpyArray Scalar(long value) => new(NpyDType.Int64, Array.Empty<long>(), new[] { value });

    /// <summary>The buffer typed as <typeparamref name="T"/>[] (no conversion).</summary>
    /// <exception cref="InvalidOperationException">When <typeparamref name="T"/> is not the element type.</exception>
    public T[] As<T>() => Data as T[]
        ?? throw new InvalidOperationException($"NpyArray: the array holds {DType} ({ClrType(DType).Name}), not {typeof(T).Name}.");

    /// <summary>The elements converted to double (any dtype; bool becomes 0/1).</summary>
    public double[] ToDoubleArray() => Data switch
    {
        double[] d => (double[])d.Clone(),
        float[] f => Array.ConvertAll(f, x => (double)x),
        long[] l => Array.ConvertAll(l, x => (double)x),
        int[] i => Array.ConvertAll(i, x => (double)x),
        byte[] b => Array.ConvertAll(b, x => (double)x),
        bool[] z => Array.ConvertAll(z, x => x ? 1.0 : 0.0),
        _ => throw new InvalidOperationException("unreachable"),
    };

    /// <summary>The elements converted to int64; fails for floating dtypes.</summary>
    public long[] ToInt64Array() => Data switch
    {
        long[] l => (long[])l.Clone(),
        int[] i => Array.ConvertAll(i, x => (long)x),
        byte[] b => Array.ConvertAll(b, x => (long)x),
        bool[] z => Array.ConvertAll(z, x => x ? 1L : 0L),
        _ => throw new InvalidOperationException($"NpyArray: cannot convert {DType} to int64 exactly."),
    };

    /// <summary>A CPU tensor with the same shape and dtype (float64, float32, int64, int32, uint8, bool).</summary>
    public Tensor ToTensor() => Data switch
    {
        double[] d => torch.tensor(d, Shape),
        float[] f => torch.tensor(f, Shape),
        long[] l => torch.tensor(l, Shape),
        int[] i => torch.tensor(i, Shape),
        byte[] b => torch.tensor(b, Shape),
        bool[] z => torch.tensor(z, Shape),
        _ => throw new InvalidOperationException("unreachable"),
    };

    /// <summary>Copies a tensor (any device, any layout) into an array.</summary>
    /// <exception cref="ArgumentException">For dtypes outside <see cref="NpyDType"/>.</exception>
    public static NpyArray FromTensor(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var t = tensor.detach().cpu().contiguous();
        var shape = t.shape;
        return t.dtype switch
        {
            ScalarType.Float64 => Of(t.data<double>().ToArray(), shape),
            ScalarType.Float32 => Of(t.data<float>().ToArray(), shape),
            ScalarType.Int64 => Of(t.data<long>().ToArray(), shape),
            ScalarType.Int32 => Of(t.data<int>().ToArray(), shape),
            ScalarType.Byte => Of(t.data<byte>().ToArray(), shape),
            ScalarType.Bool => Of(t.data<bool>().ToArray(), shape),
            _ => throw new ArgumentException($"NpyArray.FromTensor: dtype {t.dtype} has no .npy mapping here (supported: float64, float32, int64, int32, uint8, bool).", nameof(tensor)),
        };
    }

    /// <summary>The NumPy <c>descr</c> string of a dtype (e.g. <c>&lt;f8</c>).</summary>
    public static string Descr(NpyDType dtype) => dtype switch
    {
        NpyDType.Float64 => "<f8",
        NpyDType.Float32 => "<f4",
        NpyDType.Int64 => "<i8",
        NpyDType.Int32 => "<i4",
        NpyDType.UInt8 => "|u1",
        NpyDType.Bool => "|b1",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Bytes per element.</summary>
    public static int ItemSize(NpyDType dtype) => dtype switch
    {
        NpyDType.Float64 or NpyDType.Int64 => 8,
        NpyDType.Float32 or NpyDType.Int32 => 4,
        _ => 1,
    };

    internal static Type ClrType(NpyDType dtype) => dtype switch
    {
        NpyDType.Float64 => typeof(double),
        NpyDType.Float32 => typeof(float),
        NpyDType.Int64 => typeof(long),
        NpyDType.Int32 => typeof(int),
        NpyDType.UInt8 => typeof(byte),
        NpyDType.Bool => typeof(bool),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    internal static long ElementCount(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }
}
