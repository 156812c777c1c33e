using System.IO.Compression;
using System.Text;
using EquiSharp.IO;
using TorchSharp;
using Xunit;

namespace EquiSharp.Tests.IO;

/// <summary>A fact that is skipped (with the reason shown) when the shared real-data folder is absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    /// <summary>
    /// Folder of the real datasets: EQUISHARP_DATA if set, else the first <c>shared/data</c> beside an
    /// ancestor of the test binaries (the repository's <c>../shared/data</c>), else /work/shared/data.
    /// </summary>
    public static string DataRoot { get; } = Environment.GetEnvironmentVariable("EQUISHARP_DATA") ?? FindSharedData();

    private static string FindSharedData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(candidate)) return candidate;
        }
        return "/work/shared/data";
    }

    /// <summary>Skips unless <paramref name="relativePath"/> exists under <see cref="DataRoot"/>.</summary>
    public SharedDataFactAttribute(string relativePath)
    {
        if (!File.Exists(Path.Combine(DataRoot, relativePath)))
            Skip = $"Real data file {Path.Combine(DataRoot, relativePath)} not present (set EQUISHARP_DATA to the data folder).";
    }
}

public sealed class NpzTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("equisharp-npz-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static NpyArray[] AllDtypes() => new[]
    {
        NpyArray.Of(new[] { 1.5, -2.25, double.MaxValue, 0, 1e-300, -0.0 }, 2, 3),
        NpyArray.Of(new[] { 1.5f, float.Epsilon, -3f, 4f }, 4),
        NpyArray.Of(new[] { long.MinValue, 0L, long.MaxValue, 7L, 8L, 9L, 10L, 11L }, 2, 2, 2),
        NpyArray.Of(new[] { int.MinValue, 0, int.MaxValue }, 3, 1),
        NpyArray.Of(new byte[] { 0, 1, 255 }, 3),
        NpyArray.Of(new[] { true, false, true, true }, 2, 2),
        NpyArray.Scalar(3.25),
        NpyArray.Scalar(42L),
        NpyArray.Of(Array.Empty<double>(), 0, 3),
    };

    [Fact]
    public void RoundTripsEveryDtypeStoredAndCompressed()
    {
        foreach (bool compress in new[] { false, true })
        {
            var arrays = AllDtypes();
            var path = Path.Combine(dir, $"all{compress}.npz");
            Npz.Save(path, arrays.Select((a, k) => new KeyValuePair<string, NpyArray>($"a{k}", a)), compress);
            var back = Npz.Load(path);
            Assert.Equal(arrays.Length, back.Count);
            for (int k = 0; k < arrays.Length; k++)
            {
                var b = back[$"a{k}"];
                Assert.Equal(arrays[k].DType, b.DType);
                Assert.Equal(arrays[k].Shape, b.Shape);
                Assert.Equal(arrays[k].Data, b.Data);
            }
            Assert.Equal(Enumerable.Range(0, arrays.Length).Select(k => $"a{k}"), back.Keys);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        }
    }

    [Fact]
    public void HeaderIsNumPyV1AlignedTo64Bytes()
    {
        using var ms = new MemoryStream();
        Npy.Write(ms, NpyArray.Of(new[] { 1.0, 2.0, 3.0 }, 3));
        var bytes = ms.ToArray();
        Assert.Equal(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }, bytes[..8]);
        int headerLength = bytes[8] | bytes[9] << 8;
        Assert.Equal(0, (10 + headerLength) % 64);
        var header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.StartsWith("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", header);
        Assert.EndsWith("\n", header);
        Assert.Equal(10 + headerLength + 24, bytes.Length);
    }

    [Fact]
    public void TensorConversionKeepsDtypeAndShape()
    {
        using var t = torch.arange(24, dtype: torch.int32).reshape(2, 3, 4);
        var a = NpyArray.FromTensor(t.transpose(1, 2)); // non-contiguous input
        Assert.Equal(NpyDType.Int32, a.DType);
        Assert.Equal(new long[] { 2, 4, 3 }, a.Shape);
        using var back = a.ToTensor();
        Assert.Equal(new long[] { 2, 4, 3 }, back.shape);
        Assert.True(back.equal(t.transpose(1, 2)).all().item<bool>());
        Assert.Equal(torch.int32, back.dtype);
    }

    [Fact]
    public void ReadsFilesWithNumPyHeaderVariants()
    {
        // Header with double quotes, a 1-D Fortran-order flag (same layout) and a version 2.0 preamble.
        var header = "{\"descr\": \"<i4\", \"fortran_order\": True, \"shape\": (2,)}";
        var padded = header.PadRight(64 - 12 - 1) + "\n";
        using var ms = new MemoryStream();
        ms.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0 });
        ms.Write(BitConverter.GetBytes((uint)padded.Length));
        ms.Write(Encoding.ASCII.GetBytes(padded));
        ms.Write(BitConverter.GetBytes(7));
        ms.Write(BitConverter.GetBytes(-8));
        ms.Position = 0;
        var a = Npy.Read(ms, "v2");
        Assert.Equal(new[] { 7, -8 }, a.As<int>());
    }

    private string WriteZipWithEntry(string name, string entry, byte[] content)
    {
        var path = Path.Combine(dir, name);
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        using var es = zip.CreateEntry(entry).Open();
        es.Write(content);
        return path;
    }

    private static byte[] NpyBytes(string dict, byte[] data, byte major = 1)
    {
        var padded = dict.PadRight(64 - 10 - 1) + "\n";
        using var ms = new MemoryStream();
        ms.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 });
        ms.Write(BitConverter.GetBytes((ushort)padded.Length));
        ms.Write(Encoding.ASCII.GetBytes(padded));
        ms.Write(data);
        return ms.ToArray();
    }

    [Fact]
    public void MalformedFilesGiveErrorsNamingFileEntryAndField()
    {
        var ok = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        var cases = new (string Name, byte[] Bytes, string[] Expect)[]
        {
            ("magic.npz", Encoding.ASCII.GetBytes("PK not numpy at all"), new[] { "bad magic" }),
            ("dtype.npz", NpyBytes("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", new byte[32]), new[] { "unsupported dtype '<c16'", "'descr'" }),
            ("bigendian.npz", NpyBytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", new byte[16]), new[] { "'>f8'" }),
            ("object.npz", NpyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new byte[16]), new[] { "'|O'" }),
            ("fortran.npz", NpyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", new byte[32]), new[] { "'fortran_order'" }),
            ("short.npz", NpyBytes(ok, new byte[15]), new[] { "shape/size mismatch", "(2,)", "16" }),
            ("long.npz", NpyBytes(ok, new byte[24]), new[] { "shape/size mismatch" }),
            ("noshape.npz", NpyBytes("{'descr': '<f8', 'fortran_order': False, }", new byte[16]), new[] { "'shape'" }),
            ("garbage.npz", NpyBytes("{'descr': '<f8', 'fortran_order': Fals", new byte[16]), new[] { "malformed header" }),
            ("version.npz", NpyBytes(ok, new byte[16], major: 9), new[] { "version 9.0" }),
        };
        foreach (var (name, bytes, expect) in cases)
        {
            var path = WriteZipWithEntry(name, "x.npy", bytes);
            var e = Assert.Throws<NpyFormatException>(() => Npz.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("entry 'x.npy'", e.Message);
            foreach (var s in expect) Assert.Contains(s, e.Message);
        }

        var notZip = Path.Combine(dir, "plain.npz");
        File.WriteAllText(notZip, "hello");
        Assert.Contains("not a ZIP archive", Assert.Throws<NpyFormatException>(() => Npz.Load(notZip)).Message);
        Assert.Throws<FileNotFoundException>(() => Npz.Load(Path.Combine(dir, "absent.npz")));

        var good = Path.Combine(dir, "good.npz");
        Npz.Save(good, new[] { new KeyValuePair<string, NpyArray>("a", NpyArray.Of(new[] { 1.0, 2.0 }, 2)) });
        var npz = Npz.Load(good);
        var missing = Assert.Throws<NpyFormatException>(() => npz.Get("b"));
        Assert.Contains("missing key 'b'", missing.Message);
        Assert.Contains("keys present: a", missing.Message);
        Assert.Contains(good, missing.Message);
        Assert.Contains("expected '<f4'", Assert.Throws<NpyFormatException>(() => npz.Get("a", NpyDType.Float32, 2)).Message);
        Assert.Contains("has shape (2,), expected (3)", Assert.Throws<NpyFormatException>(() => npz.Get("a", NpyDType.Float64, 3)).Message);
    }

    [Fact]
    public void SaveRejectsBadKeysAndLeavesNoTemporaryFile()
    {
        var path = Path.Combine(dir, "k.npz");
        var a = NpyArray.Scalar(1.0);
        Assert.Throws<ArgumentException>(() => Npz.Save(path, new[] { new KeyValuePair<string, NpyArray>("x/y", a) }));
        Assert.Throws<ArgumentException>(() => Npz.Save(path, new[] { new KeyValuePair<string, NpyArray>("x", a), new("x", a) }));
        Assert.Throws<ArgumentException>(() => NpyArray.Of(new[] { 1.0, 2.0 }, 3));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(dir));
    }

    [SharedDataFact("qm9/qm9_cormorant_test_split.npz")]
    public void ReadsTheQm9CormorantTestSplit()
    {
        var npz = Npz.Load(Path.Combine(SharedDataFactAttribute.DataRoot, "qm9/qm9_cormorant_test_split.npz"));
        var numAtoms = npz.Get("num_atoms", NpyDType.Int64, 13083);
        var charges = npz.Get("charges", NpyDType.Int64, 13083, 29);
        var positions = npz.Get("positions", NpyDType.Float32, 13083, 29, 3);
        var index = npz.Get("index", NpyDType.Int64, 13083);
        var u0 = npz.Get("U0", NpyDType.Float32, 13083);
        npz.Get("U0_thermo", NpyDType.Float64, 13083);
        Assert.Equal(235_883, numAtoms.As<long>().Sum());
        Assert.Equal(11, index.As<long>()[0]);
        Assert.Equal(new long[] { 6, 6, 8, 1, 1, 1, 1, 0 }, charges.As<long>()[..8]);
        Assert.Equal(-153.787613, u0.As<float>()[0], 4);
        Assert.Equal(0f, positions.As<float>()[7 * 3]); // padding atom
    }

    [SharedDataFact("rmd17/rmd17_aspirin_train_01.npz")]
    public void ReadsRmd17Aspirin()
    {
        var npz = Npz.Load(Path.Combine(SharedDataFactAttribute.DataRoot, "rmd17/rmd17_aspirin_train_01.npz"));
        var z = npz.Get("nuclear_charges", NpyDType.UInt8, 21);
        Assert.Equal(new byte[] { 6, 6, 6, 6, 6, 6, 6, 8, 8, 8, 6, 6, 8, 1, 1, 1, 1, 1, 1, 1, 1 }, z.As<byte>());
        npz.Get("coords", NpyDType.Float64, 1000, 21, 3);
        npz.Get("forces", NpyDType.Float64, 1000, 21, 3);
        npz.Get("old_indices", NpyDType.Int64, 1000);
        var e = npz.Get("energies", NpyDType.Float64, 1000).As<double>();
        Assert.All(e, v => Assert.InRange(v, -406289.4 - 0.1, -406254.9 + 0.1));
        using var coords = npz["coords"].ToTensor();
        Assert.Equal(new long[] { 1000, 21, 3 }, coords.shape);
    }
}
