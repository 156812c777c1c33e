using System.Globalization;

namespace EquiSharp.Steerable;

/// <summary>
/// An irreducible representation of O(3): degree <see cref="L"/> ≥ 0 and parity <see cref="P"/> = +1
/// ("e", even) or −1 ("o", odd), written as in e3nn: "0e", "1o", "2e". Its dimension is 2l + 1 and
/// it transforms as D(R) = P^[det R = −1] · D^l(R_proper) (see docs/conventions.md).
/// </summary>
public readonly record struct Irrep : IComparable<Irrep>
{
    /// <summary>Creates the irrep (l, p); p must be +1 or −1.</summary>
    public Irrep(int l, int p)
    {
        if (l < 0) throw new ArgumentOutOfRangeException(nameof(l), l, "The degree l must be non-negative.");
        if (p is not (1 or -1)) throw new ArgumentOutOfRangeException(nameof(p), p, "The parity must be +1 (e) or -1 (o).");
        L = l;
        P = p;
    }

    /// <summary>The degree l.</summary>
    public int L { get; }

    /// <summary>The parity: +1 (even, "e") or −1 (odd, "o").</summary>
    public int P { get; }

    /// <summary>The dimension 2l + 1.</summary>
    public int Dim => 2 * L + 1;

    /// <summary>True for the scalar irrep 0e.</summary>
    public bool IsScalar => L == 0 && P == 1;

    /// <summary>The irrep of the spherical harmonics of degree l: parity (−1)^l ("0e", "1o", "2e", ...).</summary>
    public static Irrep SphericalHarmonic(int l) => new(l, l % 2 == 0 ? 1 : -1);

    /// <summary>
    /// Parses "1o", "2e", or "3y" (y: the parity (−1)^l of the spherical harmonics), as e3nn does.
    /// Throws <see cref="FormatException"/> naming the offending text.
    /// </summary>
    public static Irrep Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        if (s.Length < 2)
            throw new FormatException($"Invalid irrep '{text}': expected a degree followed by a parity letter e/o/y, e.g. '1o'.");
        char last = char.ToLowerInvariant(s[^1]);
        var digits = s[..^1];
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int l))
            throw new FormatException($"Invalid irrep '{text}': the degree '{digits}' is not a non-negative integer.");
        int p = last switch
        {
            'e' => 1,
            'o' => -1,
            'y' => l % 2 == 0 ? 1 : -1,
            _ => throw new FormatException($"Invalid irrep '{text}': the parity '{s[^1]}' must be 'e' (even), 'o' (odd) or 'y' (spherical harmonic parity)."),
        };
        return new Irrep(l, p);
    }

    /// <summary>Implicit conversion from strings such as "1o".</summary>
    public static implicit operator Irrep(string text) => Parse(text);

    /// <summary>
    /// The irreps in the tensor product of this irrep with <paramref name="other"/>: degrees
    /// |l1 − l2| … l1 + l2, parity p1·p2, in increasing degree.
    /// </summary>
    public IEnumerable<Irrep> Times(Irrep other)
    {
        int p = P * other.P;
        for (int l = Math.Abs(L - other.L); l <= L + other.L; l++) yield return new Irrep(l, p);
    }

    /// <summary>True if <paramref name="output"/> appears in this ⊗ <paramref name="other"/> (selection rule with parity).</summary>
    public bool CanCouple(Irrep other, Irrep output) =>
        output.P == P * other.P && Math.Abs(L - other.L) <= output.L && output.L <= L + other.L;

    /// <summary>e3nn's order: by degree, then the "natural" parity (−1)^l first (0e, 0o, 1o, 1e, 2e, 2o, ...).</summary>
    public int CompareTo(Irrep other)
    {
        int c = L.CompareTo(other.L);
        if (c != 0) return c;
        int key = -P * (L % 2 == 0 ? 1 : -1), otherKey = -other.P * (other.L % 2 == 0 ? 1 : -1);
        return key.CompareTo(otherKey);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{L}{(P == 1 ? 'e' : 'o')}";
}
