using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using EquiSharp.IO;

namespace EquiSharp.Datasets.Molecules;

/// <summary>
/// One of the 12 standard QM9 targets: where it is stored, the factor from the file's unit to the
/// unit papers report (e.g. Ha → meV), and which atom reference energy column is subtracted first.
/// </summary>
/// <param name="Name">Target name as used on the command line (mu, alpha, homo, …).</param>
/// <param name="Key">Key in the cormorant/EGNN .npz (and column in the original xyz property line).</param>
/// <param name="Unit">Unit of the converted value (that of the papers' MAE tables).</param>
/// <param name="Factor">File unit → <paramref name="Unit"/>.</param>
/// <param name="AtomrefColumn">Column of atomref.txt (0 ZPVE, 1 U0, 2 U, 3 H, 4 G, 5 Cv) subtracted before conversion, or null.</param>
public sealed record Qm9Target(string Name, string Key, string Unit, double Factor, int? AtomrefColumn)
{
    /// <summary>The <c>*_thermo</c> key of the cormorant .npz holding the summed atom references, or null.</summary>
    public string? ThermoKey => AtomrefColumn is null ? null : Key + "_thermo";
}

/// <summary>
/// QM9 (Ramakrishnan et al. 2014) readers and conventions: the 12 targets in the units of the EGNN
/// paper's table, atomref subtraction for ZPVE/U0/U/H/G/Cv (as EGNN/cormorant), the uncharacterized
/// list, and the standard split sizes.
/// </summary>
public static class Qm9
{
    /// <summary>1 hartree in meV (27.211386 eV).</summary>
    public const double HartreeToMeV = 27211.386;

    /// <summary>Characterized molecules of the full data set (133,885 − 3,054 uncharacterized).</summary>
    public const int CharacterizedCount = 130_831;

    /// <summary>The 12 targets in the order of the EGNN paper's table columns' usual listing.</summary>
    public static IReadOnlyList<Qm9Target> Targets { get; } =
    [
        new("mu", "mu", "D", 1, null),
        new("alpha", "alpha", "bohr^3", 1, null),
        new("homo", "homo", "meV", HartreeToMeV, null),
        new("lumo", "lumo", "meV", HartreeToMeV, null),
        new("gap", "gap", "meV", HartreeToMeV, null),
        new("r2", "r2", "bohr^2", 1, null),
        new("zpve", "zpve", "meV", HartreeToMeV, 0),
        new("U0", "U0", "meV", HartreeToMeV, 1),
        new("U", "U", "meV", HartreeToMeV, 2),
        new("H", "H", "meV", HartreeToMeV, 3),
        new("G", "G", "meV", HartreeToMeV, 4),
        new("Cv", "Cv", "cal/mol/K", 1, 5),
    ];

    /// <summary>The target named <paramref name="name"/> (case-insensitive: "u0" = "U0").</summary>
    public static Qm9Target Target(string name) =>
        Targets.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown QM9 target '{name}'; valid: {string.Join(", ", Targets.Select(t => t.Name))}.", nameof(name));

    /// <summary>
    /// Reads atomref.txt: rows <c>Element ZPVE U0 U H G Cv</c> for H, C, N, O, F (header, rules and
    /// metadata lines skipped). Returns atomic number → 6 values (Ha; Cv in cal/mol/K).
    /// </summary>
    public static Dictionary<int, double[]> ReadAtomref(string path)
    {
        var table = new Dictionary<int, double[]>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            var f = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 0 || Elements.AtomicNumber(f[0]) is not int z || Elements.Qm9Index(z) < 0) continue;
            if (f.Length != 7)
                throw new FormatException($"{path}, line {line}: the {f[0]} row needs 6 numbers (ZPVE U0 U H G Cv), got {f.Length - 1}.");
            table[z] = f.Skip(1).Select((s, k) => Xyz.Number(s, path, line, $"column {k + 2}")).ToArray();
        }
        var missing = Elements.Qm9Species.Where(z => !table.ContainsKey(z)).ToArray();
        if (missing.Length > 0)
            throw new FormatException($"{path}: no atomref row for {string.Join(", ", missing.Select(Elements.Symbol))}.");
        return table;
    }

    /// <summary>Reads uncharacterized.txt: the QM9 ids (1-based) of the data rows (first token an integer).</summary>
    public static HashSet<long> ReadUncharacterized(string path)
    {
        var ids = new HashSet<long>();
        foreach (var text in File.ReadLines(path))
        {
            var f = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2 && long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out long id)) ids.Add(id);
        }
        if (ids.Count == 0) throw new FormatException($"{path}: no data rows (expected lines starting with a QM9 index).");
        return ids;
    }

    /// <summary>
    /// Loads a cormorant/EGNN-style QM9 .npz (keys <c>num_atoms charges positions index</c>, the 12 label
    /// keys and optionally <c>*_thermo</c>) into a <see cref="MoleculeSet"/> with all 12 targets converted
    /// (atomref subtracted, Ha → meV). The atom references come from the <c>*_thermo</c> arrays or, when
    /// they are absent, from <paramref name="atomrefPath"/>. Molecules whose id is in
    /// <paramref name="uncharacterized"/> are dropped.
    /// </summary>
    public static MoleculeSet LoadNpz(string path, string? atomrefPath = null, ISet<long>? uncharacterized = null)
    {
        var npz = Npz.Load(path);
        var numAtoms = npz.Get("num_atoms");
        if (numAtoms.Shape.Length != 1) throw new NpyFormatException($"{path}: 'num_atoms' has shape {numAtoms.ShapeString}; expected (N,).");
        long n = numAtoms.Shape[0];
        var counts = numAtoms.ToInt64Array();
        var charges = npz.Get("charges");
        if (charges.Shape.Length != 2 || charges.Shape[0] != n)
            throw new NpyFormatException($"{path}: 'charges' has shape {charges.ShapeString}; expected ({n}, max_atoms).");
        long pad = charges.Shape[1];
        var positions = npz.Get("positions");
        if (positions.Shape.Length != 3 || positions.Shape[0] != n || positions.Shape[1] != pad || positions.Shape[2] != 3)
            throw new NpyFormatException($"{path}: 'positions' has shape {positions.ShapeString}; expected ({n}, {pad}, 3).");
        long[] ids = npz.TryGetValue("index", out var index) ? Vector(path, "index", index, n).Select(v => (long)v).ToArray()
            : Enumerable.Range(1, (int)n).Select(i => (long)i).ToArray();
        var z = charges.ToInt64Array();
        var x = positions.ToDoubleArray();
        var raw = new double[Targets.Count][];
        var thermo = new double[Targets.Count][];
        Dictionary<int, double[]>? atomref = atomrefPath is null ? null : ReadAtomref(atomrefPath);
        for (int t = 0; t < Targets.Count; t++)
        {
            var target = Targets[t];
            raw[t] = Vector(path, target.Key, npz.Get(target.Key), n);
            if (target.ThermoKey is { } tk && npz.TryGetValue(tk, out var th)) thermo[t] = Vector(path, tk, th, n);
        }

        var keep = new List<int>();
        var offsets = new List<int> { 0 };
        var atomZ = new List<int>();
        var atomX = new List<double>();
        for (int m = 0; m < n; m++)
        {
            long c = counts[m];
            if (c < 1 || c > pad) throw new NpyFormatException($"{path}: molecule {m} (id {ids[m]}): num_atoms = {c} is outside [1, {pad}].");
            if (uncharacterized is not null && uncharacterized.Contains(ids[m])) continue;
            for (int a = 0; a < c; a++)
            {
                long za = z[m * pad + a];
                if (Elements.Qm9Index((int)za) < 0)
                    throw new NpyFormatException($"{path}: molecule {m} (id {ids[m]}), atom {a}: charge {za} is not one of H, C, N, O, F (1, 6, 7, 8, 9).");
                atomZ.Add((int)za);
                for (int d = 0; d < 3; d++)
                {
                    double v = x[(m * pad + a) * 3 + d];
                    if (!double.IsFinite(v)) throw new NpyFormatException($"{path}: molecule {m} (id {ids[m]}), atom {a}: non-finite coordinate {v}.");
                    atomX.Add(v);
                }
            }
            keep.Add(m);
            offsets.Add(atomZ.Count);
        }

        var targets = new double[keep.Count * Targets.Count];
        for (int k = 0; k < keep.Count; k++)
        {
            int m = keep[k];
            for (int t = 0; t < Targets.Count; t++)
            {
                var target = Targets[t];
                double reference = 0;
                if (target.AtomrefColumn is int col)
                {
                    if (thermo[t] is { } th) reference = th[m];
                    else if (atomref is not null)
                        for (int a = offsets[k]; a < offsets[k + 1]; a++) reference += atomref[atomZ[a]][col];
                    else
                        throw new NpyFormatException($"{path}: no '{target.ThermoKey}' array; pass the atomref.txt file to subtract atom reference energies from {target.Name}.");
                }
                targets[k * Targets.Count + t] = (raw[t][m] - reference) * target.Factor;
            }
        }
        return new MoleculeSet(offsets.ToArray(), atomZ.ToArray(), atomX.ToArray(), keep.Select(m => ids[m]).ToArray(),
            Targets.Select(t => t.Name).ToArray(), Targets.Select(t => t.Unit).ToArray(), targets);
    }

    /// <summary>
    /// Loads QM9 in its original form (<c>dsgdb9nsd_NNNNNN.xyz</c> files: atom count, the property line
    /// <c>gdb id A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv</c>, atoms <c>Sym x y z q</c>, then
    /// frequencies, SMILES and InChI) from a folder, a .tar or a .tar.gz, subtracting atom references
    /// from <paramref name="atomrefPath"/> and dropping the <paramref name="uncharacterized"/> ids.
    /// Molecules come out sorted by id.
    /// </summary>
    public static MoleculeSet LoadXyz(string path, string atomrefPath, ISet<long>? uncharacterized = null)
    {
        var atomref = ReadAtomref(atomrefPath);
        var records = new List<(long Id, XyzFrame Frame, double[] Labels)>();
        foreach (var (name, text) in XyzEntries(path))
        {
            var frame = Xyz.ReadFirst(new StringReader(text), name);
            var f = frame.Comment.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 17 || !long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out long id))
                throw new XyzFormatException($"{name}, line 2: expected the QM9 property line 'gdb id A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv', got {f.Length} fields.");
            if (uncharacterized is not null && uncharacterized.Contains(id)) continue;
            // Columns after 'gdb id': A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv.
            string[] keys = ["A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv"];
            var labels = Targets.Select(t => Xyz.Number(f[2 + Array.IndexOf(keys, t.Key)], name, 2, t.Key)).ToArray();
            records.Add((id, frame, labels));
        }
        if (records.Count == 0) throw new XyzFormatException($"{path}: no QM9 .xyz files found.");
        records.Sort((a, b) => a.Id.CompareTo(b.Id));
        var offsets = new int[records.Count + 1];
        var atomZ = new List<int>();
        var atomX = new List<double>();
        var targets = new double[records.Count * Targets.Count];
        for (int k = 0; k < records.Count; k++)
        {
            var (id, frame, labels) = records[k];
            foreach (var s in frame.Symbols)
            {
                int zz = Elements.AtomicNumber(s) is int v && Elements.Qm9Index(v) >= 0 ? v
                    : throw new XyzFormatException($"QM9 id {id}: element '{s}' is not one of H, C, N, O, F.");
                atomZ.Add(zz);
            }
            atomX.AddRange(frame.Positions);
            offsets[k + 1] = atomZ.Count;
            for (int t = 0; t < Targets.Count; t++)
            {
                double reference = 0;
                if (Targets[t].AtomrefColumn is int col)
                    for (int a = offsets[k]; a < offsets[k + 1]; a++) reference += atomref[atomZ[a]][col];
                targets[k * Targets.Count + t] = (labels[t] - reference) * Targets[t].Factor;
            }
        }
        return new MoleculeSet(offsets, atomZ.ToArray(), atomX.ToArray(), records.Select(r => r.Id).ToArray(),
            Targets.Select(t => t.Name).ToArray(), Targets.Select(t => t.Unit).ToArray(), targets);
    }

    private static IEnumerable<(string Name, string Text)> XyzEntries(string path)
    {
        if (Directory.Exists(path))
        {
            foreach (var file in Directory.EnumerateFiles(path, "*.xyz").Order(StringComparer.Ordinal))
                yield return (file, File.ReadAllText(file));
            yield break;
        }
        using var stream = File.OpenRead(path);
        Stream tarStream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(stream, CompressionMode.Decompress) : stream;
        using var tar = new TarReader(tarStream);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null
                || !entry.Name.EndsWith(".xyz", StringComparison.OrdinalIgnoreCase)) continue;
            using var reader = new StreamReader(entry.DataStream);
            yield return ($"{path}:{entry.Name}", reader.ReadToEnd());
        }
    }

    private static double[] Vector(string path, string key, NpyArray a, long n)
    {
        if (a.Shape.Length != 1 || a.Shape[0] != n)
            throw new NpyFormatException($"{path}: '{key}' has shape {a.ShapeString}; expected ({n},) (one value per molecule).");
        return a.ToDoubleArray();
    }
}
