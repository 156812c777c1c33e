using EquiSharp.Datasets.Molecules;
using EquiSharp.IO;
using EquiSharp.Tests.IO;
using Xunit;

namespace EquiSharp.Tests.Datasets.Molecules;

/// <summary>QM9 and rMD17 readers, units, atom references and splits on the committed fixture (and the shared files when present).</summary>
public sealed class MoleculeDataTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("equisharp-mol-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A committed fixture: 40 molecules of the QM9 test split, 12 + 8 rMD17 ethanol frames, atomref.txt.</summary>
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Molecules", name);

    private static int T(string name) => Qm9.Targets.ToList().FindIndex(t => t.Name == name);

    [Fact]
    public void Qm9UnitsAndAtomrefMatchHandComputedValuesForAcetaldehyde()
    {
        var set = Qm9.LoadNpz(Fixture("qm9_fixture.npz"));
        Assert.Equal(40, set.Count);
        Assert.Equal(11, set.Ids[0]);
        Assert.Equal([6, 6, 8, 1, 1, 1, 1], set.AtomicNumbers[..7]);
        // README: U0 = -153.787613 Ha, gap = 0.2342 Ha, mu = 2.5682 D for id 11 (acetaldehyde, C2OH4).
        // Atomization U0: U0 - (2 C + O + 4 H) with atomref U0 C -37.846772, O -75.064579, H -0.500273.
        double atomization = -153.787613 - (2 * -37.846772 + -75.064579 + 4 * -0.500273);
        Assert.Equal(atomization * 27211.386, set.Target(0, T("U0")), 0.5);
        Assert.Equal(0.2342 * 27211.386, set.Target(0, T("gap")), 0.05);
        Assert.Equal(2.5682, set.Target(0, T("mu")), 1e-4);
        var raw = Npz.Load(Fixture("qm9_fixture.npz"));
        Assert.Equal(raw["Cv"].ToDoubleArray()[0] - 7 * 2.981, set.Target(0, T("Cv")), 1e-5);
        Assert.Equal(raw["homo"].ToDoubleArray()[3] * 27211.386, set.Target(3, T("homo")), 1e-6);
        Assert.Equal(raw["r2"].ToDoubleArray()[5], set.Target(5, T("r2")), 1e-9);
    }

    [Fact]
    public void AtomrefFileGivesTheSameTargetsAsTheThermoArrays()
    {
        var raw = Npz.Load(Fixture("qm9_fixture.npz"));
        string stripped = Path.Combine(dir, "nothermo.npz");
        Npz.Save(stripped, raw.Where(kv => !kv.Key.EndsWith("_thermo", StringComparison.Ordinal)));
        var e = Assert.Throws<NpyFormatException>(() => Qm9.LoadNpz(stripped));
        Assert.Contains("atomref", e.Message);
        var viaThermo = Qm9.LoadNpz(Fixture("qm9_fixture.npz"));
        var viaAtomref = Qm9.LoadNpz(stripped, Fixture("atomref.txt"));
        for (int k = 0; k < viaThermo.Targets.Length; k++)
            Assert.Equal(viaThermo.Targets[k], viaAtomref.Targets[k], 1e-3);
    }

    [Fact]
    public void UncharacterizedMoleculesAreDropped()
    {
        string list = Path.Combine(dir, "uncharacterized.txt");
        File.WriteAllText(list, "header text\n=====\n   11  CC=O  CC=O  CC=O  0.1\n   14  C  C  C  0.2\n=====\n");
        var ids = Qm9.ReadUncharacterized(list);
        Assert.Equal([11L, 14L], ids.Order());
        var set = Qm9.LoadNpz(Fixture("qm9_fixture.npz"), uncharacterized: ids);
        var all = Qm9.LoadNpz(Fixture("qm9_fixture.npz"));
        Assert.Equal(all.Count - 2, set.Count);
        Assert.DoesNotContain(11L, set.Ids);
        Assert.DoesNotContain(14L, set.Ids);
        Assert.Equal(all.Target(2, 0), set.Target(0, 0)); // the third molecule is now first
    }

    [Fact]
    public void MalformedQm9FilesAreRejectedNamingFileAndMolecule()
    {
        var raw = Npz.Load(Fixture("qm9_fixture.npz"));
        var charges = raw["charges"].ToInt64Array();
        charges[29 + 2] = 3; // lithium in molecule 1
        string bad = Path.Combine(dir, "li.npz");
        Npz.Save(bad, raw.Select(kv => kv.Key == "charges" ? new KeyValuePair<string, NpyArray>("charges", NpyArray.Of(charges, raw["charges"].Shape)) : kv));
        var e = Assert.Throws<NpyFormatException>(() => Qm9.LoadNpz(bad));
        Assert.Contains("li.npz", e.Message);
        Assert.Contains("molecule 1", e.Message);
        Assert.Contains("charge 3", e.Message);

        string short1 = Path.Combine(dir, "short.npz");
        Npz.Save(short1, raw.Select(kv => kv.Key == "homo" ? new KeyValuePair<string, NpyArray>("homo", NpyArray.Of(new double[3], 3)) : kv));
        e = Assert.Throws<NpyFormatException>(() => Qm9.LoadNpz(short1));
        Assert.Contains("'homo' has shape (3,)", e.Message);
    }

    [Fact]
    public void Qm9XyzArchiveReaderParsesTheOriginalFormat()
    {
        // The original QM9 layout: property line, atoms with Mulliken charges and *^ exponents, then frequencies, SMILES, InChI.
        string folder = Directory.CreateDirectory(Path.Combine(dir, "xyz")).FullName;
        File.WriteAllText(Path.Combine(folder, "dsgdb9nsd_000001.xyz"),
            "5\ngdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t\n" +
            "C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689\nH\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921\n" +
            "H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922\nH\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923\n" +
            "H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923\n1341.307\t1341.3284\t1341.365\nC\tC\t\nInChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4");
        // The same file inside a .tar.gz (the packaging of the shared geometry archive).
        string archive = Path.Combine(dir, "qm9.tar.gz");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(archive), System.IO.Compression.CompressionLevel.Fastest))
        using (var tar = new System.Formats.Tar.TarWriter(gz))
            tar.WriteEntry(Path.Combine(folder, "dsgdb9nsd_000001.xyz"), "qm9/dsgdb9nsd_000001.xyz");
        var fromTar = Qm9.LoadXyz(archive, Fixture("atomref.txt"), uncharacterized: new HashSet<long> { 2 });
        var set = Qm9.LoadXyz(folder, Fixture("atomref.txt"));
        Assert.Equal(set.Targets, fromTar.Targets);
        var e = Assert.Throws<XyzFormatException>(() => Qm9.LoadXyz(archive, Fixture("atomref.txt"), new HashSet<long> { 1 }));
        Assert.Contains("no QM9 .xyz files", e.Message);
        Assert.Equal(1, set.Count);
        Assert.Equal([6, 1, 1, 1, 1], set.AtomicNumbers);
        Assert.Equal((-40.47893 - (-37.846772 + 4 * -0.500273)) * 27211.386, set.Target(0, T("U0")), 1e-6);
        Assert.Equal(-0.3877 * 27211.386, set.Target(0, T("homo")), 1e-6);
        Assert.Equal(6.469 - 5 * 2.981, set.Target(0, T("Cv")), 1e-9);
    }

    [Fact]
    public void SplitsHaveTheProtocolSizesAndAreDisjoint()
    {
        var egnn = MoleculeSplit.Qm9Standard("egnn", Qm9.CharacterizedCount);
        Assert.Equal((100_000, 17_748, 13_083), (egnn.Train.Length, egnn.Valid.Length, egnn.Test.Length));
        var dimenet = MoleculeSplit.Qm9Standard("dimenet", Qm9.CharacterizedCount);
        Assert.Equal((110_000, 10_000, 10_831), (dimenet.Train.Length, dimenet.Valid.Length, dimenet.Test.Length));
        Assert.Equal(Qm9.CharacterizedCount, egnn.Train.Concat(egnn.Valid).Concat(egnn.Test).Distinct().Count());
        Assert.Throws<ArgumentException>(() => MoleculeSplit.Qm9Standard("egnn", 13_083));

        var seeded = MoleculeSplit.Seeded(100, 70, 20, null, seed: 3);
        Assert.Equal((70, 20, 10), (seeded.Train.Length, seeded.Valid.Length, seeded.Test.Length));
        Assert.Equal(100, seeded.Train.Concat(seeded.Valid).Concat(seeded.Test).Distinct().Count());
        Assert.Equal(seeded.Train, MoleculeSplit.Seeded(100, 70, 20, null, seed: 3).Train);
        Assert.NotEqual(seeded.Train, MoleculeSplit.Seeded(100, 70, 20, null, seed: 4).Train);
        Assert.Throws<ArgumentException>(() => MoleculeSplit.Seeded(100, 90, 20, null, seed: 3));
    }

    [Fact]
    public void Md17FramesAreConvertedToMeV()
    {
        var frames = Md17.Load(Fixture("rmd17_ethanol_train_01.npz"));
        var raw = Npz.Load(Fixture("rmd17_ethanol_train_01.npz"));
        Assert.Equal(12, frames.Count);
        Assert.Equal([6, 6, 8, 1, 1, 1, 1, 1, 1], frames.AtomicNumbers[9..18]);
        Assert.Equal(raw["energies"].ToDoubleArray()[4] * 43.3634, frames.Target(4, 0), 1e-6);
        Assert.Equal(raw["forces"].ToDoubleArray()[30] * 43.3634, frames.Forces![30], 1e-9);
        Assert.Equal(raw["coords"].ToDoubleArray()[30], frames.Positions[30]);
        Assert.InRange(frames.Target(0, 0) / 43.3634, -97085.9, -97061.7); // README: ethanol energy range, kcal/mol

        string bad = Path.Combine(dir, "bad.npz");
        Npz.Save(bad, raw.Select(kv => kv.Key == "forces" ? new KeyValuePair<string, NpyArray>("forces", NpyArray.Of(new double[12 * 8 * 3], 12, 8, 3)) : kv));
        var e = Assert.Throws<NpyFormatException>(() => Md17.Load(bad));
        Assert.Contains("'forces' has shape (12, 8, 3)", e.Message);
    }

    [Fact]
    public void BatchesCarryChargePowerFeaturesEdgesAndNormalisedTargets()
    {
        var set = Qm9.LoadNpz(Fixture("qm9_fixture.npz")).SelectTarget("gap");
        var normalizer = TargetNormalizer.Fit(set);
        Assert.Equal(set.Targets.Average(), normalizer.Mean[0], 1e-9);
        Assert.Equal(set.Targets.Average(v => Math.Abs(v - normalizer.Mean[0])), normalizer.Scale[0], 1e-9);
        var source = new MoleculeBatchSource(set, new MoleculeGraphOptions(), normalizer);
        using var batch = source.CreateBatch([0, 2]);
        int n0 = set.Atoms(0), n2 = set.Atoms(2);
        Assert.Equal(n0 + n2, batch.NumNodes);
        Assert.Equal(n0 * (n0 - 1) + n2 * (n2 - 1), batch.NumEdges);
        var h = batch.NodeFeatures!.to_type(TorchSharp.torch.ScalarType.Float64).data<double>().ToArray();
        double q = 6.0 / 9;
        Assert.Equal(new double[] { 0, 1, 0, 0, 0, 0, q, 0, 0, 0, 0, q * q, 0, 0, 0 }, h[..15].Select(v => Math.Round(v, 6)), new ToleranceComparer(1e-6)); // carbon
        Assert.Equal((set.Target(2, 0) - normalizer.Mean[0]) / normalizer.Scale[0], batch.GraphTarget![1, 0].item<float>(), 1e-4);

        var cut = new MoleculeBatchSource(set, new MoleculeGraphOptions(AtomFeatureKind.OneHot, Cutoff: 1.2), normalizer);
        using var bonded = cut.CreateBatch([0]);
        Assert.True(bonded.NumEdges < n0 * (n0 - 1) && bonded.NumEdges > 0);
        Assert.Equal(5, bonded.NodeFeatures!.shape[1]);
    }

    [SharedDataFact("qm9/qm9_cormorant_test_split.npz")]
    public void SharedQm9TestSplitLoadsWithKnownValues()
    {
        string root = SharedDataFactAttribute.DataRoot;
        var unchar = Qm9.ReadUncharacterized(Path.Combine(root, "qm9", "uncharacterized.txt"));
        Assert.Equal(3054, unchar.Count);
        var set = Qm9.LoadNpz(Path.Combine(root, "qm9", "qm9_cormorant_test_split.npz"), Path.Combine(root, "qm9", "atomref.txt"), unchar);
        Assert.Equal(13_083, set.Count);
        Assert.Equal(235_883, set.AtomCount);
        Assert.Equal(133_850, set.Ids[^1]);
        var split = MoleculeSplit.Seeded(set.Count, 10_000, 1_000, null, seed: 0);
        Assert.Equal(2_083, split.Test.Length);
    }

    [SharedDataFact("rmd17/rmd17_aspirin_train_01.npz")]
    public void SharedAspirinFilesHave1000FramesOf21Atoms()
    {
        foreach (var part in new[] { "train", "test" })
        {
            var frames = Md17.Load(Md17.FileName(Path.Combine(SharedDataFactAttribute.DataRoot, "rmd17"), "aspirin", part, 1));
            Assert.Equal(1000, frames.Count);
            Assert.Equal(21_000, frames.AtomCount);
            Assert.Equal([6, 6, 6, 6, 6, 6, 6, 8, 8, 8, 6, 6, 8, 1, 1, 1, 1, 1, 1, 1, 1], frames.AtomicNumbers[..21]);
            // README: train energies span −406289.4 … −406254.9 kcal/mol; the test frames reach a little further.
            Assert.All(frames.Targets, e => Assert.InRange(e / Md17.KcalPerMolToMeV, -406300, -406240));
        }
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double v) => 0;
    }
}
