using EquiSharp.Graphs;
using EquiSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Training;

/// <summary>A small node-regression model with dropout (so resumption must reproduce the random stream too).</summary>
internal sealed class TinyNodeModel : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear hidden;
    private readonly Linear output;
    private readonly Dropout dropout;

    public TinyNodeModel(int features = 2, int width = 16, double dropoutRate = 0.1) : base(nameof(TinyNodeModel))
    {
        hidden = nn.Linear(features + 3, width);
        output = nn.Linear(width, 3);
        dropout = nn.Dropout(dropoutRate);
        RegisterComponents();
    }

    public override Tensor forward(GraphBatch batch)
    {
        var input = torch.cat(new[] { batch.Positions, batch.NodeFeatures! }, 1);
        return batch.Positions + output.forward(dropout.forward(torch.tanh(hidden.forward(input))));
    }
}

/// <summary>Data and helpers shared by the training tests.</summary>
internal static class TrainingFixtures
{
    /// <summary>Fully connected 4-node graphs; target = positions + 0.5 (f0 − f1) + 0.1, learnable by <see cref="TinyNodeModel"/>.</summary>
    public static List<GeometricGraph> Graphs(int count, long seed, int nodes = 4)
    {
        var gen = new torch.Generator((ulong)seed);
        var src = new List<long>();
        var dst = new List<long>();
        for (int i = 0; i < nodes; i++)
            for (int j = 0; j < nodes; j++)
                if (i != j) { src.Add(j); dst.Add(i); }
        var edges = torch.stack(new[] { torch.tensor(src.ToArray()), torch.tensor(dst.ToArray()) });
        var graphs = new List<GeometricGraph>(count);
        for (int g = 0; g < count; g++)
        {
            var x = torch.randn(new long[] { nodes, 3 }, generator: gen);
            var f = torch.randn(new long[] { nodes, 2 }, generator: gen);
            var shift = (f[.., 0..1] - f[.., 1..2]) * 0.5 + 0.1;
            graphs.Add(new GeometricGraph { Positions = x, EdgeIndex = edges, NodeFeatures = f, NodeTarget = x + shift });
        }
        return graphs;
    }

    public static (List<GeometricGraph> Train, List<GeometricGraph> Valid, List<GeometricGraph> Test) Splits(int train = 48, int valid = 16, int test = 16) =>
        (Graphs(train, 1), Graphs(valid, 2), Graphs(test, 3));

    public static TinyNodeModel Model(long initSeed, double dropout = 0.1)
    {
        torch.manual_seed(initSeed);
        return new TinyNodeModel(dropoutRate: dropout);
    }

    private static readonly List<string> Created = [];

    /// <summary>A fresh folder under the temp directory, deleted by <see cref="DeleteTempFolders"/>.</summary>
    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "equisharp-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        lock (Created) Created.Add(path);
        return path;
    }

    /// <summary>Deletes the folders made by <see cref="TempFolder"/> (called from the test classes' Dispose).</summary>
    public static void DeleteTempFolders()
    {
        lock (Created)
        {
            foreach (var path in Created)
                try { Directory.Delete(path, recursive: true); } catch (IOException) { }
            Created.Clear();
        }
    }

    public static Tensor[] Weights(nn.Module module) => module.parameters().Select(p => p.detach().clone()).ToArray();
}
