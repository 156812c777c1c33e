using EquiSharp.Graphs;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Cli.Demo;

/// <summary>Turns a demo molecule into a fully connected graph with Gaussian distance features.</summary>
internal static class DemoGraphs
{
    public const int DistanceFeatures = 16;
    private const double MaxDistance = 6.0;

    public static GeometricGraph Build(Tensor positions, Tensor speciesOneHot, double target)
    {
        long n = positions.shape[0];
        var src = new List<long>();
        var dst = new List<long>();
        for (long i = 0; i < n; i++)
            for (long j = 0; j < n; j++)
                if (i != j) { src.Add(j); dst.Add(i); }
        var edgeIndex = torch.stack(new[] { torch.tensor(src.ToArray()), torch.tensor(dst.ToArray()) });
        var distance = (positions.index_select(0, edgeIndex[0]) - positions.index_select(0, edgeIndex[1])).norm(1, keepdim: true);
        var centres = torch.linspace(0, MaxDistance, DistanceFeatures);
        double width = MaxDistance / (DistanceFeatures - 1);
        var features = (-(distance - centres).square() / (2 * width * width)).exp();
        return new GeometricGraph
        {
            Positions = positions,
            EdgeIndex = edgeIndex,
            NodeFeatures = speciesOneHot,
            EdgeAttributes = features,
            GraphTarget = torch.tensor(new[] { (float)target }),
        };
    }
}
