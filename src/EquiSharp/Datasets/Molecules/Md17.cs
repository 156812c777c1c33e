using EquiSharp.IO;

namespace EquiSharp.Datasets.Molecules;

/// <summary>
/// Revised MD17 (Christensen and von Lilienfeld 2020) in the npz layout of <c>rmd17_&lt;molecule&gt;_&lt;train|test&gt;_&lt;NN&gt;.npz</c>:
/// <c>nuclear_charges</c> (A,), <c>coords</c> (F, A, 3) Å, <c>energies</c> (F,) kcal/mol and
/// <c>forces</c> (F, A, 3) kcal/mol/Å. Loaded energies and forces are converted to meV and meV/Å.
/// </summary>
public static class Md17
{
    /// <summary>1 kcal/mol in meV.</summary>
    public const double KcalPerMolToMeV = 43.3634;

    /// <summary>The molecules of rMD17.</summary>
    public static IReadOnlyList<string> Molecules { get; } =
        ["aspirin", "azobenzene", "benzene", "ethanol", "malonaldehyde", "naphthalene", "paracetamol", "salicylic", "toluene", "uracil"];

    /// <summary>The file of <paramref name="molecule"/>'s <paramref name="part"/> ("train" or "test") of split <paramref name="split"/> in <paramref name="folder"/>.</summary>
    public static string FileName(string folder, string molecule, string part, int split) =>
        Path.Combine(folder, $"rmd17_{molecule}_{part}_{split:00}.npz");

    /// <summary>Loads one rMD17 .npz: one molecule per frame, target "energy" (meV), forces (meV/Å).</summary>
    public static MoleculeSet Load(string path)
    {
        var npz = Npz.Load(path);
        var z = npz.Get("nuclear_charges");
        if (z.Shape.Length != 1) throw new NpyFormatException($"{path}: 'nuclear_charges' has shape {z.ShapeString}; expected (atoms,).");
        long a = z.Shape[0];
        var coords = npz.Get("coords");
        if (coords.Shape.Length != 3 || coords.Shape[1] != a || coords.Shape[2] != 3)
            throw new NpyFormatException($"{path}: 'coords' has shape {coords.ShapeString}; expected (frames, {a}, 3).");
        long f = coords.Shape[0];
        var energies = npz.Get("energies");
        if (energies.Shape.Length != 1 || energies.Shape[0] != f)
            throw new NpyFormatException($"{path}: 'energies' has shape {energies.ShapeString}; expected ({f},).");
        var forces = npz.Get("forces");
        if (!forces.Shape.SequenceEqual(coords.Shape))
            throw new NpyFormatException($"{path}: 'forces' has shape {forces.ShapeString}; expected that of 'coords', {coords.ShapeString}.");
        var charges = z.ToInt64Array();
        for (int k = 0; k < a; k++)
            if (charges[k] < 1 || charges[k] > 118) throw new NpyFormatException($"{path}: nuclear_charges[{k}] = {charges[k]} is not an atomic number.");
        var x = coords.ToDoubleArray();
        var e = energies.ToDoubleArray();
        var fo = forces.ToDoubleArray();
        int bad = Array.FindIndex(x, v => !double.IsFinite(v));
        if (bad >= 0) throw new NpyFormatException($"{path}: coords of frame {bad / (3 * a)} contain the non-finite value {x[bad]}.");
        var offsets = new int[f + 1];
        var atomZ = new int[f * a];
        for (int m = 0; m < f; m++)
        {
            offsets[m + 1] = (int)((m + 1) * a);
            for (int k = 0; k < a; k++) atomZ[m * a + k] = (int)charges[k];
        }
        var ids = npz.TryGetValue("old_indices", out var oi) && oi.Shape.Length == 1 && oi.Shape[0] == f
            ? oi.ToInt64Array() : Enumerable.Range(0, (int)f).Select(i => (long)i).ToArray();
        return new MoleculeSet(offsets, atomZ, x, ids, ["energy"], ["meV"],
            e.Select(v => v * KcalPerMolToMeV).ToArray(), fo.Select(v => v * KcalPerMolToMeV).ToArray());
    }
}
