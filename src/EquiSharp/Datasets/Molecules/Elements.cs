namespace EquiSharp.Datasets.Molecules;

/// <summary>Chemical elements by symbol and atomic number, and the QM9 species set used for one-hot features.</summary>
public static class Elements
{
    private static readonly string[] Symbols =
    [
        "", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
        "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    ];

    /// <summary>The species of QM9 (and of the rMD17 molecules) in one-hot order: H, C, N, O, F.</summary>
    public static IReadOnlyList<int> Qm9Species { get; } = [1, 6, 7, 8, 9];

    /// <summary>The largest atomic number of <see cref="Qm9Species"/> (9, fluorine): EGNN scales charges by it.</summary>
    public const int Qm9MaxCharge = 9;

    /// <summary>Atomic number of a symbol (case-insensitive: "C", "cl"); null when unknown.</summary>
    public static int? AtomicNumber(string symbol)
    {
        for (int z = 1; z < Symbols.Length; z++)
            if (string.Equals(Symbols[z], symbol, StringComparison.OrdinalIgnoreCase)) return z;
        return null;
    }

    /// <summary>Symbol of an atomic number ("Z=n" beyond krypton).</summary>
    public static string Symbol(int z) => z > 0 && z < Symbols.Length ? Symbols[z] : $"Z={z}";

    /// <summary>Index of <paramref name="z"/> in <see cref="Qm9Species"/>, or -1.</summary>
    public static int Qm9Index(int z) => z switch { 1 => 0, 6 => 1, 7 => 2, 8 => 3, 9 => 4, _ => -1 };
}
