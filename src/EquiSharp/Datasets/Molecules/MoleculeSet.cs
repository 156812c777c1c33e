namespace EquiSharp.Datasets.Molecules;

/// <summary>
/// Molecules stored flat: atomic numbers and positions (Å) of all atoms one molecule after the other,
/// with <see cref="Offsets"/> marking where each molecule starts, plus per-molecule targets
/// [Count, T] and optional per-atom forces [atoms, 3]. Targets are in the units named by
/// <see cref="TargetUnits"/> (already converted, e.g. meV).
/// </summary>
public sealed class MoleculeSet
{
    /// <summary>Creates a set after checking that every array agrees with <paramref name="offsets"/>.</summary>
    /// <param name="offsets">[Count + 1], non-decreasing, starting at 0: molecule m owns atoms offsets[m] .. offsets[m+1]-1.</param>
    /// <param name="atomicNumbers">Atomic number of every atom.</param>
    /// <param name="positions">Positions [atoms × 3], Å.</param>
    /// <param name="ids">An identifier per molecule (QM9 index, frame number).</param>
    /// <param name="targetNames">Names of the T targets.</param>
    /// <param name="targetUnits">Units of the T targets.</param>
    /// <param name="targets">Targets [Count × T], row-major.</param>
    /// <param name="forces">Optional forces [atoms × 3] (same unit as the energy target per Å).</param>
    public MoleculeSet(int[] offsets, int[] atomicNumbers, double[] positions, long[] ids, string[] targetNames, string[] targetUnits,
        double[] targets, double[]? forces = null)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        if (offsets.Length < 1 || offsets[0] != 0)
            throw new ArgumentException("MoleculeSet: offsets must start at 0.", nameof(offsets));
        for (int m = 0; m + 1 < offsets.Length; m++)
            if (offsets[m + 1] <= offsets[m])
                throw new ArgumentException($"MoleculeSet: molecule {m} has no atoms (offsets {offsets[m]}, {offsets[m + 1]}).", nameof(offsets));
        int count = offsets.Length - 1, atoms = offsets[^1];
        if (atomicNumbers.Length != atoms) throw new ArgumentException($"MoleculeSet: {atomicNumbers.Length} atomic numbers for {atoms} atoms.", nameof(atomicNumbers));
        if (positions.Length != 3 * atoms) throw new ArgumentException($"MoleculeSet: {positions.Length} coordinates for {atoms} atoms (expected {3 * atoms}).", nameof(positions));
        if (ids.Length != count) throw new ArgumentException($"MoleculeSet: {ids.Length} ids for {count} molecules.", nameof(ids));
        if (targetNames.Length != targetUnits.Length) throw new ArgumentException("MoleculeSet: one unit per target name is needed.", nameof(targetUnits));
        if (targets.Length != count * targetNames.Length)
            throw new ArgumentException($"MoleculeSet: {targets.Length} target values for {count} molecules × {targetNames.Length} targets.", nameof(targets));
        if (forces is not null && forces.Length != 3 * atoms)
            throw new ArgumentException($"MoleculeSet: {forces.Length} force components for {atoms} atoms (expected {3 * atoms}).", nameof(forces));
        Offsets = offsets; AtomicNumbers = atomicNumbers; Positions = positions; Ids = ids;
        TargetNames = targetNames; TargetUnits = targetUnits; Targets = targets; Forces = forces;
    }

    /// <summary>Atom offsets [Count + 1].</summary>
    public int[] Offsets { get; }

    /// <summary>Atomic numbers [atoms].</summary>
    public int[] AtomicNumbers { get; }

    /// <summary>Positions [atoms × 3], Å.</summary>
    public double[] Positions { get; }

    /// <summary>Identifier per molecule.</summary>
    public long[] Ids { get; }

    /// <summary>Names of the targets.</summary>
    public string[] TargetNames { get; }

    /// <summary>Units of the targets.</summary>
    public string[] TargetUnits { get; }

    /// <summary>Targets [Count × T].</summary>
    public double[] Targets { get; }

    /// <summary>Forces [atoms × 3] or null.</summary>
    public double[]? Forces { get; }

    /// <summary>Number of molecules.</summary>
    public int Count => Offsets.Length - 1;

    /// <summary>Number of targets T.</summary>
    public int TargetCount => TargetNames.Length;

    /// <summary>Total number of atoms.</summary>
    public int AtomCount => Offsets[^1];

    /// <summary>Atoms of molecule <paramref name="m"/>.</summary>
    public int Atoms(int m) => Offsets[m + 1] - Offsets[m];

    /// <summary>Target <paramref name="t"/> of molecule <paramref name="m"/>.</summary>
    public double Target(int m, int t) => Targets[m * TargetCount + t];

    /// <summary>The molecules at <paramref name="indices"/>, in that order.</summary>
    public MoleculeSet Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int t = TargetCount;
        var offsets = new int[indices.Count + 1];
        for (int k = 0; k < indices.Count; k++)
        {
            int m = indices[k];
            if (m < 0 || m >= Count) throw new ArgumentOutOfRangeException(nameof(indices), m, $"Molecule index outside [0, {Count}).");
            offsets[k + 1] = offsets[k] + Atoms(m);
        }
        var z = new int[offsets[^1]];
        var x = new double[3 * offsets[^1]];
        var f = Forces is null ? null : new double[3 * offsets[^1]];
        var ids = new long[indices.Count];
        var y = new double[indices.Count * t];
        for (int k = 0; k < indices.Count; k++)
        {
            int m = indices[k], n = Atoms(m);
            Array.Copy(AtomicNumbers, Offsets[m], z, offsets[k], n);
            Array.Copy(Positions, 3 * Offsets[m], x, 3 * offsets[k], 3 * n);
            if (f is not null) Array.Copy(Forces!, 3 * Offsets[m], f, 3 * offsets[k], 3 * n);
            Array.Copy(Targets, m * t, y, k * t, t);
            ids[k] = Ids[m];
        }
        return new MoleculeSet(offsets, z, x, ids, TargetNames, TargetUnits, y, f);
    }

    /// <summary>Only target <paramref name="name"/> (case-insensitive), as a one-target set sharing the atom arrays.</summary>
    public MoleculeSet SelectTarget(string name)
    {
        int t = Array.FindIndex(TargetNames, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
        if (t < 0) throw new ArgumentException($"Unknown target '{name}'; this set has: {string.Join(", ", TargetNames)}.", nameof(name));
        var y = new double[Count];
        for (int m = 0; m < Count; m++) y[m] = Target(m, t);
        return new MoleculeSet(Offsets, AtomicNumbers, Positions, Ids, [TargetNames[t]], [TargetUnits[t]], y, Forces);
    }
}
