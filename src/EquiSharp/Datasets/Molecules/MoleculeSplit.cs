using EquiSharp.Training;

namespace EquiSharp.Datasets.Molecules;

/// <summary>Indices of the training, validation and test molecules of a <see cref="MoleculeSet"/>.</summary>
public sealed record MoleculeSplit(int[] Train, int[] Valid, int[] Test)
{
    /// <summary>The two standard QM9 split protocols over the 130,831 characterized molecules.</summary>
    public static IReadOnlyDictionary<string, (int Train, int Valid, int Test)> Qm9Protocols { get; } =
        new Dictionary<string, (int, int, int)>(StringComparer.OrdinalIgnoreCase)
        {
            ["egnn"] = (100_000, 17_748, 13_083),     // Cormorant / EGNN / SEGNN
            ["dimenet"] = (110_000, 10_000, 10_831),  // DimeNet / PONITA
        };

    /// <summary>
    /// A random split of <paramref name="count"/> molecules: a permutation seeded by
    /// <paramref name="seed"/>, cut into <paramref name="train"/>, <paramref name="valid"/> and
    /// <paramref name="test"/> (null: all the rest) molecules.
    /// </summary>
    public static MoleculeSplit Seeded(int count, int train, int valid, int? test, long seed)
    {
        if (train < 1 || valid < 0 || test is < 0)
            throw new ArgumentOutOfRangeException(nameof(train), $"Split sizes must be positive (train {train}, valid {valid}, test {test}).");
        int rest = count - train - valid;
        int t = test ?? rest;
        if (rest < 0 || t > rest)
            throw new ArgumentException($"The split {train}/{valid}/{t} needs {train + valid + t} molecules but only {count} are available.");
        var order = Seeding.Permutation(count, seed);
        return new MoleculeSplit(order[..train], order[train..(train + valid)], order[(train + valid)..(train + valid + t)]);
    }

    /// <summary>
    /// A standard QM9 protocol ("egnn": 100,000/17,748/13,083, "dimenet": 110,000/10,000/10,831) on the
    /// full characterized set; <paramref name="count"/> must be 130,831. The permutation is seeded but is
    /// not NumPy's, so the exact membership differs from the reference code's.
    /// </summary>
    public static MoleculeSplit Qm9Standard(string protocol, int count, long seed = 0)
    {
        if (!Qm9Protocols.TryGetValue(protocol, out var sizes))
            throw new ArgumentException($"Unknown QM9 split protocol '{protocol}'; valid: {string.Join(", ", Qm9Protocols.Keys)}.", nameof(protocol));
        if (count != Qm9.CharacterizedCount)
            throw new ArgumentException($"The '{protocol}' split needs the full {Qm9.CharacterizedCount} characterized QM9 molecules; this data has {count}. Use a seeded split with explicit sizes instead.");
        return Seeded(count, sizes.Train, sizes.Valid, sizes.Test, seed);
    }
}
