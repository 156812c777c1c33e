using System.Globalization;
using System.Text;

namespace EquiSharp.IO;

/// <summary>
/// One frame of an (extended) XYZ file: atom symbols, positions [atoms × 3] (Å), the comment line,
/// its key=value pairs (extended XYZ) and any per-atom columns beyond the position (e.g. "forces").
/// </summary>
/// <param name="Symbols">Element symbol of each atom, as written.</param>
/// <param name="Positions">Positions, row-major [atoms × 3].</param>
/// <param name="Comment">The second line of the frame.</param>
/// <param name="Info">Extended XYZ key=value pairs of the comment line (quotes removed); empty for plain XYZ.</param>
/// <param name="Arrays">Per-atom arrays other than species and positions, row-major [atoms × columns]: from the
/// extended XYZ <c>Properties</c> (e.g. "forces" with 3 columns), or "extra" for plain XYZ lines with more than four fields.</param>
public sealed record XyzFrame(string[] Symbols, double[] Positions, string Comment,
    IReadOnlyDictionary<string, string> Info, IReadOnlyDictionary<string, double[]> Arrays)
{
    /// <summary>Number of atoms.</summary>
    public int AtomCount => Symbols.Length;
}

/// <summary>
/// Reader of XYZ and extended XYZ (ASE) text: each frame is an atom-count line, a comment line, then one
/// line per atom. Plain XYZ lines are <c>Symbol x y z [extra numbers…]</c>; in extended XYZ the comment
/// holds <c>key=value</c> pairs and <c>Properties=species:S:1:pos:R:3:forces:R:3</c> names the columns.
/// Numbers use the invariant culture; Fortran/Mathematica exponents (<c>1.5*^-6</c>, <c>1.5D-6</c>) are
/// accepted. Errors are <see cref="XyzFormatException"/>s naming the source, line and field.
/// </summary>
public static class Xyz
{
    /// <summary>Reads every frame of a file.</summary>
    public static List<XyzFrame> Load(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader, path);
    }

    /// <summary>Reads every frame of <paramref name="reader"/> (blank lines between frames are skipped).</summary>
    public static List<XyzFrame> Read(TextReader reader, string source = "xyz")
    {
        var frames = new List<XyzFrame>();
        int line = 0;
        while (ReadFrame(reader, source, ref line) is { } frame)
            frames.Add(frame);
        return frames;
    }

    /// <summary>Reads only the first frame (ignoring anything after it, e.g. the extra lines of a QM9 file).</summary>
    public static XyzFrame ReadFirst(TextReader reader, string source = "xyz")
    {
        int line = 0;
        return ReadFrame(reader, source, ref line) ?? throw new XyzFormatException($"{source}: no frame (the file is empty).");
    }

    private static XyzFrame? ReadFrame(TextReader reader, string source, ref int line)
    {
        string? countLine;
        do
        {
            countLine = reader.ReadLine();
            line++;
            if (countLine is null) return null;
        } while (countLine.Trim().Length == 0);
        if (!int.TryParse(countLine.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int count) || count < 1)
            throw new XyzFormatException($"{source}, line {line}: expected a positive atom count, got '{Clip(countLine)}'.");
        int frameLine = line;
        string comment = reader.ReadLine() ?? throw new XyzFormatException($"{source}, line {line + 1}: the frame starting at line {frameLine} ends before its comment line.");
        line++;
        var info = ParseInfo(comment);
        var columns = ParseProperties(info, source, line);

        var symbols = new string[count];
        var positions = new double[3 * count];
        var arrays = new Dictionary<string, double[]>(StringComparer.Ordinal);
        int width = columns?.Sum(c => c.Width) ?? -1, plainWidth = 0;
        for (int a = 0; a < count; a++)
        {
            string text = reader.ReadLine() ?? throw new XyzFormatException(
                $"{source}, line {line + 1}: the frame starting at line {frameLine} declares {count} atoms but the input ends after {a}.");
            line++;
            var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (columns is null)
            {
                if (fields.Length < 4)
                    throw new XyzFormatException($"{source}, line {line}: atom {a + 1} of {count} needs 'symbol x y z', got '{Clip(text)}'.");
                symbols[a] = fields[0];
                for (int d = 0; d < 3; d++) positions[3 * a + d] = Number(fields[1 + d], source, line, $"coordinate {"xyz"[d]}");
                if (a == 0) plainWidth = fields.Length;
                else if (fields.Length != plainWidth)
                    throw new XyzFormatException($"{source}, line {line}: atom {a + 1} has {fields.Length} fields, earlier atoms had {plainWidth}.");
                if (fields.Length > 4)
                {
                    int ew = fields.Length - 4;
                    if (!arrays.TryGetValue("extra", out var extra)) arrays["extra"] = extra = new double[count * ew];
                    for (int c = 0; c < ew; c++) extra[a * ew + c] = Number(fields[4 + c], source, line, $"column {5 + c}");
                }
                continue;
            }
            if (fields.Length != width)
                throw new XyzFormatException($"{source}, line {line}: atom {a + 1} has {fields.Length} fields but Properties declares {width}.");
            int at = 0;
            foreach (var (name, kind, w) in columns)
            {
                if (name == "species") symbols[a] = fields[at];
                else if (name == "pos")
                    for (int d = 0; d < 3; d++) positions[3 * a + d] = Number(fields[at + d], source, line, $"pos {"xyz"[d]}");
                else if (kind is 'R' or 'I')
                {
                    if (!arrays.TryGetValue(name, out var values)) arrays[name] = values = new double[count * w];
                    for (int c = 0; c < w; c++) values[a * w + c] = Number(fields[at + c], source, line, $"{name}[{c}]");
                }
                at += w;
            }
        }
        if (symbols.Any(s => s is null))
            throw new XyzFormatException($"{source}, line {frameLine + 1}: Properties has no 'species' column.");
        return new XyzFrame(symbols, positions, comment, info, arrays);
    }

    private static List<(string Name, char Kind, int Width)>? ParseProperties(Dictionary<string, string> info, string source, int line)
    {
        if (!info.TryGetValue("Properties", out var spec)) return null;
        var parts = spec.Split(':');
        if (parts.Length % 3 != 0)
            throw new XyzFormatException($"{source}, line {line}: Properties='{Clip(spec)}' must be name:type:count triples.");
        var columns = new List<(string, char, int)>();
        for (int k = 0; k < parts.Length; k += 3)
        {
            if (parts[k + 1].Length != 1 || "SRIL".IndexOf(parts[k + 1][0]) < 0
                || !int.TryParse(parts[k + 2], NumberStyles.Integer, CultureInfo.InvariantCulture, out int w) || w < 1)
                throw new XyzFormatException($"{source}, line {line}: Properties column '{parts[k]}:{parts[k + 1]}:{parts[k + 2]}' needs a type S/R/I/L and a positive count.");
            columns.Add((parts[k], parts[k + 1][0], w));
        }
        if (!columns.Any(c => c.Item1 == "pos" && c.Item3 == 3))
            throw new XyzFormatException($"{source}, line {line}: Properties has no 'pos:R:3' column.");
        return columns;
    }

    /// <summary>The key=value pairs of an extended XYZ comment line (values may be "quoted"); bare words map to "T".</summary>
    public static Dictionary<string, string> ParseInfo(string comment)
    {
        var info = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0, n = comment.Length;
        while (i < n)
        {
            while (i < n && char.IsWhiteSpace(comment[i])) i++;
            int start = i;
            while (i < n && comment[i] != '=' && !char.IsWhiteSpace(comment[i])) i++;
            if (i == start) break;
            string key = comment[start..i];
            if (i >= n || comment[i] != '=')
            {
                info[key] = "T";
                continue;
            }
            i++;
            var value = new StringBuilder();
            if (i < n && comment[i] == '"')
            {
                i++;
                while (i < n && comment[i] != '"') value.Append(comment[i++]);
                i++;
            }
            else
                while (i < n && !char.IsWhiteSpace(comment[i])) value.Append(comment[i++]);
            info[key] = value.ToString();
        }
        return info;
    }

    /// <summary>Parses a number (invariant culture; <c>*^</c> and <c>D</c> exponents accepted) or throws naming source, line and field.</summary>
    public static double Number(string text, string source, int line, string field)
    {
        string t = text.Replace("*^", "e").Replace('D', 'e').Replace('d', 'e');
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new XyzFormatException($"{source}, line {line}: {field} '{Clip(text)}' is not a finite number.");
        return v;
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";
}

/// <summary>Malformed XYZ input; the message names the source, the line and the field.</summary>
public sealed class XyzFormatException(string message) : FormatException(message);
