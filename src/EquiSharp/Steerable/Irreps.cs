using System.Collections;
using System.Globalization;
using EquiSharp.Equivariance;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Steerable;

/// <summary>
/// An immutable direct sum of irreps, e.g. "16x0e+8x1o+4x2e", laid out as in e3nn: blocks in the
/// written order, each block Mul copies of the irrep stored consecutively (multiplicity-major), so the
/// block "8x1o" occupies 24 consecutive entries [copy 0 (x, y, z), copy 1 (x, y, z), ...].
/// </summary>
public sealed class Irreps : IReadOnlyList<MulIrrep>, IEquatable<Irreps>
{
    private readonly MulIrrep[] _blocks;
    private readonly int[] _offsets;

    /// <summary>Creates irreps from blocks (multiplicities ≥ 0; zero blocks are kept until <see cref="Simplify"/>).</summary>
    public Irreps(IEnumerable<MulIrrep> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        _blocks = blocks.ToArray();
        foreach (var b in _blocks)
            if (b.Mul < 0) throw new ArgumentOutOfRangeException(nameof(blocks), b.Mul, $"Negative multiplicity in '{b}'.");
        _offsets = new int[_blocks.Length + 1];
        for (int i = 0; i < _blocks.Length; i++) _offsets[i + 1] = _offsets[i] + _blocks[i].Dim;
    }

    /// <summary>Creates irreps from (multiplicity, irrep) pairs.</summary>
    public Irreps(params (int Mul, Irrep Irrep)[] blocks) : this(blocks.Select(b => new MulIrrep(b.Mul, b.Irrep))) { }

    /// <summary>The empty direct sum (dimension 0).</summary>
    public static Irreps Empty { get; } = new(Array.Empty<MulIrrep>());

    /// <summary>The spherical harmonics irreps 0e + 1o + 2e + ... up to <paramref name="lmax"/> (multiplicity 1 each).</summary>
    public static Irreps SphericalHarmonics(int lmax)
    {
        if (lmax < 0) throw new ArgumentOutOfRangeException(nameof(lmax), lmax, "lmax must be non-negative.");
        return new Irreps(Enumerable.Range(0, lmax + 1).Select(l => new MulIrrep(1, Irrep.SphericalHarmonic(l))));
    }

    /// <summary>
    /// Parses e3nn syntax: blocks "MULxIRREP" or "IRREP" (multiplicity 1) joined by '+', spaces allowed,
    /// e.g. "16x0e + 8x1o + 2e"; "" is the empty sum. Throws <see cref="FormatException"/> naming the
    /// offending token.
    /// </summary>
    public static Irreps Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text)) return Empty;
        var blocks = new List<MulIrrep>();
        foreach (var raw in text.Split('+'))
        {
            var token = raw.Trim();
            if (token.Length == 0)
                throw new FormatException($"Invalid irreps '{text}': empty token between '+' signs.");
            int mul = 1;
            string irrepText = token;
            int x = token.IndexOf('x');
            if (x >= 0)
            {
                var mulText = token[..x].Trim();
                if (!int.TryParse(mulText, NumberStyles.None, CultureInfo.InvariantCulture, out mul))
                    throw new FormatException($"Invalid irreps '{text}': token '{token}' has multiplicity '{mulText}', which is not a non-negative integer.");
                irrepText = token[(x + 1)..];
            }
            Irrep irrep;
            try { irrep = Irrep.Parse(irrepText); }
            catch (FormatException e) { throw new FormatException($"Invalid irreps '{text}': token '{token}': {e.Message}", e); }
            blocks.Add(new MulIrrep(mul, irrep));
        }
        return new Irreps(blocks);
    }

    /// <summary>Implicit conversion from e3nn strings such as "16x0e+8x1o".</summary>
    public static implicit operator Irreps(string text) => Parse(text);

    /// <summary>Number of blocks.</summary>
    public int Count => _blocks.Length;

    /// <summary>The block at <paramref name="index"/>.</summary>
    public MulIrrep this[int index] => _blocks[index];

    /// <summary>Total dimension Σ mul (2l + 1).</summary>
    public int Dim => _offsets[^1];

    /// <summary>
    /// Checks that <paramref name="x"/> is floating point [..., Dim] and returns it reshaped to
    /// [rows, Dim] with the leading shape; the error names the irreps and the shape.
    /// </summary>
    internal (Tensor Flat, long[] Lead) Flatten(Tensor x, string paramName = "x")
    {
        ArgumentNullException.ThrowIfNull(x, paramName);
        if (x.dim() < 1 || x.shape[^1] != Dim || !x.is_floating_point())
            throw new ArgumentException($"{paramName}: expected floating point [..., {Dim}] for irreps '{this}', got {Graphs.GraphValidation.Shape(x)} ({x.dtype}).", paramName);
        var lead = x.shape[..^1];
        return (x.reshape(lead.Aggregate(1L, (a, b) => a * b), Dim), lead);
    }

    /// <summary>Total number of irrep copies Σ mul.</summary>
    public int NumIrreps => _blocks.Sum(b => b.Mul);

    /// <summary>The largest degree (−1 when empty).</summary>
    public int Lmax => _blocks.Length == 0 ? -1 : _blocks.Max(b => b.Irrep.L);

    /// <summary>The entries [start, end) occupied by block <paramref name="index"/>.</summary>
    public (int Start, int End) Slice(int index) => (_offsets[index], _offsets[index + 1]);

    /// <summary>The start offsets of the blocks, plus the total dimension at the end.</summary>
    public IReadOnlyList<int> Offsets => _offsets;

    /// <summary>The blocks from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive) as irreps.</summary>
    public Irreps Sub(int start, int end) => new(_blocks[start..end]);

    /// <summary>Total multiplicity of <paramref name="irrep"/>.</summary>
    public int CountOf(Irrep irrep) => _blocks.Where(b => b.Irrep == irrep).Sum(b => b.Mul);

    /// <summary>True if some block with non-zero multiplicity holds <paramref name="irrep"/>.</summary>
    public bool Contains(Irrep irrep) => _blocks.Any(b => b.Mul > 0 && b.Irrep == irrep);

    /// <summary>Concatenation (direct sum in order).</summary>
    public static Irreps operator +(Irreps a, Irreps b) => new(a._blocks.Concat(b._blocks));

    /// <summary>Every multiplicity multiplied by <paramref name="factor"/>.</summary>
    public static Irreps operator *(int factor, Irreps a)
    {
        if (factor < 0) throw new ArgumentOutOfRangeException(nameof(factor), factor, "The factor must be non-negative.");
        return new(a._blocks.Select(b => new MulIrrep(b.Mul * factor, b.Irrep)));
    }

    /// <summary>Drops empty blocks and merges consecutive blocks of the same irrep (as e3nn's simplify; the layout is unchanged).</summary>
    public Irreps Simplify()
    {
        var result = new List<MulIrrep>();
        foreach (var b in _blocks)
        {
            if (b.Mul == 0) continue;
            if (result.Count > 0 && result[^1].Irrep == b.Irrep) result[^1] = new MulIrrep(result[^1].Mul + b.Mul, b.Irrep);
            else result.Add(b);
        }
        return new Irreps(result);
    }

    /// <summary>
    /// Stable sort of the blocks by irrep (e3nn order, see <see cref="Irrep.CompareTo"/>). Permutation[i]
    /// is the new position of old block i, Inverse[j] the old position of new block j.
    /// </summary>
    public (Irreps Sorted, int[] Permutation, int[] Inverse) Sort()
    {
        var inverse = Enumerable.Range(0, _blocks.Length).OrderBy(i => _blocks[i].Irrep).ToArray();
        var permutation = new int[inverse.Length];
        for (int j = 0; j < inverse.Length; j++) permutation[inverse[j]] = j;
        return (new Irreps(inverse.Select(i => _blocks[i])), permutation, inverse);
    }

    /// <summary>The irreps of the full tensor product of this with <paramref name="other"/>, sorted and simplified.</summary>
    public Irreps TensorProduct(Irreps other)
    {
        var blocks = new List<MulIrrep>();
        foreach (var a in _blocks)
            foreach (var b in other._blocks)
                foreach (var ir in a.Irrep.Times(b.Irrep))
                    blocks.Add(new MulIrrep(a.Mul * b.Mul, ir));
        return new Irreps(blocks).Sort().Sorted.Simplify();
    }

    /// <summary>
    /// The block-diagonal representation matrix D(R) [..., Dim, Dim] of orthogonal matrices
    /// <paramref name="r"/> [..., 3, 3] (reflections included): one block per irrep copy, in the layout order.
    /// </summary>
    public Tensor D(Tensor r)
    {
        ArgumentNullException.ThrowIfNull(r);
        using var scope = torch.NewDisposeScope();
        var batch = r.shape[..^2];
        var result = torch.zeros(batch.Concat(new long[] { Dim, Dim }).ToArray(), dtype: r.dtype, device: r.device);
        var cache = new Dictionary<Irrep, Tensor>();
        int offset = 0;
        foreach (var b in _blocks)
        {
            if (!cache.TryGetValue(b.Irrep, out var d)) cache[b.Irrep] = d = WignerD.Irrep(b.Irrep, r);
            for (int c = 0; c < b.Mul; c++, offset += b.Irrep.Dim)
                result[TensorIndex.Ellipsis, TensorIndex.Slice(offset, offset + b.Irrep.Dim), TensorIndex.Slice(offset, offset + b.Irrep.Dim)] = d;
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The equivariance-kit field type of tensors whose last dimension carries these irreps (v ↦ D(R) v).</summary>
    public RepresentationField FieldType => new IrrepsField(this);

    /// <inheritdoc/>
    public IEnumerator<MulIrrep> GetEnumerator() => ((IEnumerable<MulIrrep>)_blocks).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(Irreps? other) => other is not null && _blocks.SequenceEqual(other._blocks);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Irreps);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var b in _blocks) h.Add(b);
        return h.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(Irreps? a, Irreps? b) => a is null ? b is null : a.Equals(b);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Irreps? a, Irreps? b) => !(a == b);

    /// <summary>e3nn's text form, e.g. "16x0e+8x1o" (every multiplicity written).</summary>
    public override string ToString() => string.Join("+", _blocks.Select(b => b.ToString()));
}
