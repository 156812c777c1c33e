using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace EquiSharp.IO;

/// <summary>A malformed or unsupported .npy/.npz file; the message names the file, the entry and the field.</summary>
public sealed class NpyFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public NpyFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// Reader and writer of NumPy's .npy format: the magic <c>\x93NUMPY</c>, a major/minor version byte,
/// the header length (uint16 little-endian for version 1.0, uint32 for 2.0 and 3.0), an ASCII
/// Python dict literal with <c>descr</c>, <c>fortran_order</c> and <c>shape</c>, padded with spaces
/// and a newline so that the data starts at a multiple of 64 bytes, then the raw data.
/// </summary>
/// <remarks>Supported dtypes: <c>&lt;f8 &lt;f4 &lt;i8 &lt;i4 |u1 |b1</c> (also <c>&lt;u1</c>, <c>|i1</c> is not).
/// Big-endian data, Fortran order, object/pickled arrays and structured dtypes are rejected with an
/// <see cref="NpyFormatException"/>. Files are written as version 1.0 (2.0 if the header would not fit).</remarks>
public static class Npy
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Reads one array from a stream positioned at the magic string.</summary>
    /// <param name="stream">The stream (read to the end of the array's data).</param>
    /// <param name="source">How the array is named in error messages, e.g. <c>"data.npz: entry 'coords.npy'"</c>.</param>
    /// <exception cref="NpyFormatException">Bad magic, unsupported version or dtype, Fortran order, malformed header, truncated data.</exception>
    public static NpyArray Read(Stream stream, string source = "npy")
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> pre = stackalloc byte[8];
        int got = ReadFully(stream, pre);
        if (got < 8 || !pre[..6].SequenceEqual(Magic))
            throw new NpyFormatException($"{source}: not a .npy array (bad magic: expected \\x93NUMPY, got {Printable(pre[..got])}).");
        byte major = pre[6], minor = pre[7];
        int headerLength;
        if (major == 1)
        {
            Span<byte> len = stackalloc byte[2];
            if (ReadFully(stream, len) < 2) throw new NpyFormatException($"{source}: truncated header length.");
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(len);
        }
        else if (major is 2 or 3)
        {
            Span<byte> len = stackalloc byte[4];
            if (ReadFully(stream, len) < 4) throw new NpyFormatException($"{source}: truncated header length.");
            uint l = BinaryPrimitives.ReadUInt32LittleEndian(len);
            if (l > 1 << 24) throw new NpyFormatException($"{source}: header length {l} is implausible.");
            headerLength = (int)l;
        }
        else
            throw new NpyFormatException($"{source}: unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0).");

        var headerBytes = new byte[headerLength];
        if (ReadFully(stream, headerBytes) < headerLength)
            throw new NpyFormatException($"{source}: truncated header ({headerLength} bytes announced).");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var (dtype, fortran, shape) = ParseHeader(header, source);
        if (fortran && shape.Length > 1)
            throw new NpyFormatException($"{source}: field 'fortran_order' is True; only C-order arrays are supported (save with np.ascontiguousarray).");

        long count;
        try { count = NpyArray.ElementCount(shape); }
        catch (OverflowException) { throw new NpyFormatException($"{source}: field 'shape' {FormatShape(shape)} overflows."); }
        long bytes = count * NpyArray.ItemSize(dtype);
        if (bytes > Array.MaxLength)
            throw new NpyFormatException($"{source}: field 'shape' {FormatShape(shape)} needs {bytes} bytes, more than one managed array holds.");
        var raw = new byte[bytes];
        int read = ReadFully(stream, raw);
        if (read < bytes)
            throw new NpyFormatException($"{source}: shape/size mismatch: field 'shape' {FormatShape(shape)} with dtype '{NpyArray.Descr(dtype)}' needs {bytes} data bytes, the entry has {read}.");
        if (stream.CanSeek ? stream.Position < stream.Length : stream.ReadByte() >= 0)
            throw new NpyFormatException($"{source}: shape/size mismatch: the entry holds more data than field 'shape' {FormatShape(shape)} with dtype '{NpyArray.Descr(dtype)}' ({bytes} bytes) accounts for.");
        return new NpyArray(dtype, shape, ToTyped(dtype, raw, source));
    }

    /// <summary>Writes an array (format 1.0 unless the header needs 2.0).</summary>
    public static void Write(Stream stream, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(array);
        string shape = array.Shape.Length == 1 ? $"({array.Shape[0]},)" : $"({string.Join(", ", array.Shape)})";
        string dict = $"{{'descr': '{NpyArray.Descr(array.DType)}', 'fortran_order': False, 'shape': {shape}, }}";
        bool v2 = dict.Length + 1 + 10 > ushort.MaxValue;
        int prefix = v2 ? 12 : 10;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - prefix - 1) + "\n";
        stream.Write(Magic);
        stream.WriteByte(v2 ? (byte)2 : (byte)1);
        stream.WriteByte(0);
        Span<byte> len = stackalloc byte[4];
        if (v2) { BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)header.Length); stream.Write(len); }
        else { BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length); stream.Write(len[..2]); }
        stream.Write(Encoding.ASCII.GetBytes(header));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Npy.Write needs a little-endian machine.");
        switch (array.Data)
        {
            case double[] d: stream.Write(MemoryMarshal.AsBytes(d.AsSpan())); break;
            case float[] f: stream.Write(MemoryMarshal.AsBytes(f.AsSpan())); break;
            case long[] l: stream.Write(MemoryMarshal.AsBytes(l.AsSpan())); break;
            case int[] i: stream.Write(MemoryMarshal.AsBytes(i.AsSpan())); break;
            case byte[] b: stream.Write(b); break;
            case bool[] z: foreach (var v in z) stream.WriteByte(v ? (byte)1 : (byte)0); break;
        }
    }

    /// <summary>Reads a .npy file.</summary>
    public static NpyArray Load(string path)
    {
        using var fs = File.OpenRead(path);
        return Read(fs, path);
    }

    /// <summary>Writes a .npy file atomically (temporary file in the same folder, then rename).</summary>
    public static void Save(string path, NpyArray array) => AtomicFile.Write(path, s => Write(s, array));

    private static Array ToTyped(NpyDType dtype, byte[] raw, string source)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Npy.Read needs a little-endian machine.");
        switch (dtype)
        {
            case NpyDType.Float64: return MemoryMarshal.Cast<byte, double>(raw).ToArray();
            case NpyDType.Float32: return MemoryMarshal.Cast<byte, float>(raw).ToArray();
            case NpyDType.Int64: return MemoryMarshal.Cast<byte, long>(raw).ToArray();
            case NpyDType.Int32: return MemoryMarshal.Cast<byte, int>(raw).ToArray();
            case NpyDType.UInt8: return raw;
            case NpyDType.Bool:
                var z = new bool[raw.Length];
                for (int k = 0; k < raw.Length; k++)
                {
                    if (raw[k] > 1) throw new NpyFormatException($"{source}: bool element {k} has byte value {raw[k]} (expected 0 or 1).");
                    z[k] = raw[k] == 1;
                }
                return z;
            default: throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    internal static (NpyDType DType, bool Fortran, long[] Shape) ParseHeader(string header, string source)
    {
        var dict = new HeaderParser(header, source).ParseDict();
        if (!dict.TryGetValue("descr", out var descrObj))
            throw new NpyFormatException($"{source}: header has no field 'descr': {header.Trim()}");
        if (descrObj is not string descr)
            throw new NpyFormatException($"{source}: field 'descr' is not a simple dtype string (structured dtypes are not supported): {header.Trim()}");
        if (!dict.TryGetValue("fortran_order", out var fortranObj) || fortranObj is not bool fortran)
            throw new NpyFormatException($"{source}: header has no boolean field 'fortran_order': {header.Trim()}");
        if (!dict.TryGetValue("shape", out var shapeObj) || shapeObj is not List<long> shapeList)
            throw new NpyFormatException($"{source}: header has no integer tuple field 'shape': {header.Trim()}");
        if (shapeList.Any(d => d < 0))
            throw new NpyFormatException($"{source}: field 'shape' {FormatShape(shapeList.ToArray())} has a negative dimension.");
        NpyDType dtype = descr switch
        {
            "<f8" => NpyDType.Float64,
            "<f4" => NpyDType.Float32,
            "<i8" => NpyDType.Int64,
            "<i4" => NpyDType.Int32,
            "|u1" or "<u1" or ">u1" => NpyDType.UInt8,
            "|b1" => NpyDType.Bool,
            _ => throw new NpyFormatException(
                $"{source}: unsupported dtype '{descr}' in field 'descr' (supported: <f8 <f4 <i8 <i4 |u1 |b1; big-endian, object and other dtypes are not)."),
        };
        return (dtype, fortran, shapeList.ToArray());
    }

    private static string FormatShape(long[] shape) => shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder();
        foreach (var b in bytes) sb.Append(b is >= 32 and < 127 ? ((char)b).ToString() : $"\\x{b:x2}");
        return sb.Length == 0 ? "nothing" : sb.ToString();
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>Parses the restricted Python literal of a .npy header: a dict of string keys to strings, booleans, ints and int tuples.</summary>
    private sealed class HeaderParser(string text, string source)
    {
        private int pos;

        public Dictionary<string, object> ParseDict()
        {
            var result = new Dictionary<string, object>();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { pos++; break; }
                var key = ParseValue() as string ?? throw Error("dict key is not a string");
                Expect(':');
                result[key] = ParseValue();
                SkipSpace();
                if (Peek() == ',') { pos++; continue; }
                Expect('}');
                break;
            }
            SkipSpace();
            if (pos != text.Length) throw Error("trailing characters after the dict");
            return result;
        }

        private object ParseValue()
        {
            SkipSpace();
            char c = Peek();
            if (c is '\'' or '"')
            {
                int end = text.IndexOf(c, pos + 1);
                if (end < 0) throw Error("unterminated string");
                var s = text.Substring(pos + 1, end - pos - 1);
                pos = end + 1;
                return s;
            }
            if (c == '(' || c == '[')
            {
                char close = c == '(' ? ')' : ']';
                pos++;
                var list = new List<long>();
                while (true)
                {
                    SkipSpace();
                    if (Peek() == close) { pos++; break; }
                    var v = ParseValue();
                    if (v is not long l) throw Error("tuple element is not an integer (structured dtype?)");
                    list.Add(l);
                    SkipSpace();
                    if (Peek() == ',') { pos++; continue; }
                    Expect(close);
                    break;
                }
                return list;
            }
            if (Match("True")) return true;
            if (Match("False")) return false;
            int start = pos;
            while (pos < text.Length && (char.IsDigit(text[pos]) || text[pos] == '-' || text[pos] == 'L')) pos++;
            if (pos == start) throw Error($"unexpected character '{c}'");
            var num = text.Substring(start, pos - start).TrimEnd('L');
            if (!long.TryParse(num, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)) throw Error($"bad integer '{num}'");
            return value;
        }

        private bool Match(string word)
        {
            if (string.CompareOrdinal(text, pos, word, 0, word.Length) != 0) return false;
            pos += word.Length;
            return true;
        }

        private void SkipSpace() { while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++; }

        private char Peek() => pos < text.Length ? text[pos] : throw Error("unexpected end of header");

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw Error($"expected '{c}'");
            pos++;
        }

        private NpyFormatException Error(string what) =>
            new($"{source}: malformed header ({what} at character {pos}): {text.Trim()}");
    }
}
