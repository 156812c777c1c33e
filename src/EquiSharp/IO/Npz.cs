using System.IO.Compression;

namespace EquiSharp.IO;

/// <summary>
/// The arrays of one .npz file, by key (the entry name without <c>.npy</c>), in file order.
/// <see cref="Get(string)"/> names the file and lists the available keys when a key is missing.
/// </summary>
public sealed class NpzArchive : IReadOnlyDictionary<string, NpyArray>
{
    private readonly Dictionary<string, NpyArray> arrays;

    internal NpzArchive(string source, List<KeyValuePair<string, NpyArray>> ordered)
    {
        Source = source;
        Keys = ordered.Select(kv => kv.Key).ToArray();
        arrays = ordered.ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>Where the arrays came from (the file path), used in error messages.</summary>
    public string Source { get; }

    /// <summary>Keys in file order.</summary>
    public IReadOnlyList<string> Keys { get; }

    IEnumerable<string> IReadOnlyDictionary<string, NpyArray>.Keys => Keys;

    /// <inheritdoc />
    public IEnumerable<NpyArray> Values => Keys.Select(k => arrays[k]);

    /// <inheritdoc />
    public int Count => Keys.Count;

    /// <inheritdoc />
    public NpyArray this[string key] => Get(key);

    /// <summary>The array stored under <paramref name="key"/>.</summary>
    /// <exception cref="NpyFormatException">Naming the file, the missing key and the keys present.</exception>
    public NpyArray Get(string key) => arrays.TryGetValue(key, out var a) ? a
        : throw new NpyFormatException($"{Source}: missing key '{key}' (keys present: {string.Join(", ", Keys)}).");

    /// <summary>
    /// The array under <paramref name="key"/>, checked against an expected dtype and shape
    /// (a dimension of -1 matches any size).
    /// </summary>
    /// <exception cref="NpyFormatException">Naming file, key, field and both values on a mismatch.</exception>
    public NpyArray Get(string key, NpyDType dtype, params long[] shape)
    {
        var a = Get(key);
        if (a.DType != dtype)
            throw new NpyFormatException($"{Source}: key '{key}' has dtype '{NpyArray.Descr(a.DType)}', expected '{NpyArray.Descr(dtype)}'.");
        bool ok = a.Shape.Length == shape.Length;
        for (int k = 0; ok && k < shape.Length; k++) ok = shape[k] < 0 || shape[k] == a.Shape[k];
        if (!ok)
            throw new NpyFormatException(
                $"{Source}: key '{key}' has shape {a.ShapeString}, expected ({string.Join(", ", shape.Select(d => d < 0 ? "*" : d.ToString()))}).");
        return a;
    }

    /// <inheritdoc />
    public bool ContainsKey(string key) => arrays.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, out NpyArray value) => arrays.TryGetValue(key, out value!);

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, NpyArray>> GetEnumerator() =>
        Keys.Select(k => new KeyValuePair<string, NpyArray>(k, arrays[k])).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// NumPy .npz archives: a ZIP file (stored or deflated, Zip64 allowed) with one .npy entry per
/// array, named <c>&lt;key&gt;.npy</c>. Readable with <c>numpy.load(path)</c>; reads the files
/// <c>numpy.savez</c>/<c>savez_compressed</c> write (see <see cref="Npy"/> for the dtypes).
/// </summary>
public static class Npz
{
    /// <summary>Reads every array of an .npz file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NpyFormatException">Not a ZIP archive, or an entry is not a valid .npy array (the message names file and entry).</exception>
    public static NpzArchive Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Npz.Load: no file '{path}'.", path);
        using var fs = File.OpenRead(path);
        return Read(fs, path);
    }

    /// <summary>Reads every array of an .npz archive from a (seekable) stream.</summary>
    public static NpzArchive Read(Stream stream, string source = "npz")
    {
        ZipArchive zip;
        try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
        catch (InvalidDataException e) { throw new NpyFormatException($"{source}: not an .npz file (not a ZIP archive: {e.Message}).", e); }
        using (zip)
        {
            var list = new List<KeyValuePair<string, NpyArray>>();
            var seen = new HashSet<string>();
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;
                string key = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                if (!seen.Add(key)) throw new NpyFormatException($"{source}: key '{key}' appears twice.");
                NpyArray array;
                try
                {
                    using var es = entry.Open();
                    array = Npy.Read(es, $"{source}: entry '{entry.FullName}'");
                }
                catch (InvalidDataException e)
                {
                    throw new NpyFormatException($"{source}: entry '{entry.FullName}' is corrupt ({e.Message}).", e);
                }
                list.Add(new(key, array));
            }
            return new NpzArchive(source, list);
        }
    }

    /// <summary>
    /// Writes arrays as an .npz file atomically (a temporary file in the target folder renamed over
    /// the target). Keys become entry names <c>&lt;key&gt;.npy</c>.
    /// </summary>
    /// <param name="path">Target file.</param>
    /// <param name="arrays">Key/array pairs, written in this order.</param>
    /// <param name="compress">Deflate the entries (like <c>numpy.savez_compressed</c>); stored otherwise (like <c>numpy.savez</c>).</param>
    /// <exception cref="ArgumentException">An empty, duplicated or path-like key.</exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, NpyArray>> arrays, bool compress = false)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        var list = arrays.ToList();
        var seen = new HashSet<string>();
        foreach (var (key, array) in list)
        {
            if (string.IsNullOrEmpty(key) || key.Contains('/') || key.Contains('\\'))
                throw new ArgumentException($"Npz.Save: key '{key}' must be non-empty and contain no path separators.", nameof(arrays));
            if (!seen.Add(key)) throw new ArgumentException($"Npz.Save: key '{key}' appears twice.", nameof(arrays));
            ArgumentNullException.ThrowIfNull(array, $"arrays['{key}']");
        }
        AtomicFile.Write(path, fs =>
        {
            using var zip = new ZipArchive(fs, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (key, array) in list)
            {
                var entry = zip.CreateEntry(key + ".npy", compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using var es = entry.Open();
                Npy.Write(es, array);
            }
        });
    }
}
