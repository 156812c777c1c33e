using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Cli.Demo;

/// <summary>
/// Small deterministic molecule-like point clouds with an invariant target, for the demo until the
/// real benchmarks are wired in: 5–12 atoms of three species (charges +1, -1, +0.5) at Gaussian
/// positions; the target is the screened Coulomb energy SUM over pairs i &lt; j of q_i q_j exp(-|x_i - x_j|).
/// </summary>
internal static class SyntheticMolecules
{
    public const int Species = 3;
    private static readonly double[] Charges = { 1.0, -1.0, 0.5 };

    /// <summary>Generates <paramref name="count"/> graphs (no edges yet) from <paramref name="seed"/>.</summary>
    public static List<(Tensor Positions, Tensor SpeciesOneHot, double Energy)> Generate(int count, int seed)
    {
        var rng = new Random(seed);
        var result = new List<(Tensor, Tensor, double)>(count);
        for (int m = 0; m < count; m++)
        {
            int n = rng.Next(5, 13);
            var pos = new double[n, 3];
            var species = new long[n];
            for (int i = 0; i < n; i++)
            {
                species[i] = rng.Next(Species);
                for (int k = 0; k < 3; k++) pos[i, k] = 1.2 * Gaussian(rng);
            }
            double energy = 0;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                {
                    double dx = pos[i, 0] - pos[j, 0], dy = pos[i, 1] - pos[j, 1], dz = pos[i, 2] - pos[j, 2];
                    energy += Charges[species[i]] * Charges[species[j]] * Math.Exp(-Math.Sqrt(dx * dx + dy * dy + dz * dz));
                }
            var oneHot = torch.nn.functional.one_hot(torch.tensor(species), Species).to_type(ScalarType.Float32);
            result.Add((torch.tensor(pos).to_type(ScalarType.Float32), oneHot, energy));
        }
        return result;
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
