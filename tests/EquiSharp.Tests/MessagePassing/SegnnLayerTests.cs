using EquiSharp.Equivariance;
using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Steerable;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EquiSharp.Tests.MessagePassing;

public class SegnnLayerTests
{
    private static readonly Irreps Hidden = "4x0e+3x1o+2x2e";
    private static readonly Irreps Attr = Irreps.SphericalHarmonics(2);

    /// <summary>Two small fully connected systems with random node features of the given irreps and an invariant edge scalar.</summary>
    internal static GraphBatch Systems(Generator gen, Irreps features)
    {
        var graphs = new List<GeometricGraph>();
        foreach (int n in new[] { 4, 3 })
        {
            var src = new List<long>();
            var dst = new List<long>();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (i != j) { src.Add(j); dst.Add(i); }
            graphs.Add(new GeometricGraph
            {
                Positions = torch.randn(new long[] { n, 3 }, dtype: ScalarType.Float64, generator: gen),
                NodeFeatures = torch.randn(new long[] { n, features.Dim }, dtype: ScalarType.Float64, generator: gen),
                EdgeIndex = torch.tensor(src.Concat(dst).ToArray(), new long[] { 2, src.Count }),
                EdgeAttributes = torch.randn(new long[] { src.Count, 1 }, dtype: ScalarType.Float64, generator: gen),
            });
        }
        return GraphBatch.FromGraphs(graphs);
    }

    private static Tensor Run(SegnnLayer layer, GraphBatch b)
    {
        var edges = EdgeContext.FromBatch(b);
        var relative = edges.RelativePositions(b.Positions);
        var edgeAttr = SphericalHarmonics.Compute(2, relative);
        var nodeAttr = global::EquiSharp.Aggregation.Scatter.Mean(edgeAttr, edges.Target, b.NumNodes);
        var extra = torch.cat(new[] { relative.norm(1, keepdim: true), b.EdgeAttributes! }, 1);
        return layer.forward(b.NodeFeatures!, edges, edgeAttr, nodeAttr, extra, b.Batch, b.NumGraphs);
    }

    [Theory]
    [InlineData(SegnnNorm.None)]
    [InlineData(SegnnNorm.Layer)]
    [InlineData(SegnnNorm.Instance)]
    public void SegnnLayerIsO3TranslationAndPermutationEquivariant_WithTheKit(SegnnNorm norm)
    {
        torch.manual_seed(7);
        var layer = new SegnnLayer(Hidden, Attr, Attr, "2x0e", norm);
        layer.to(ScalarType.Float64);
        var gen = new Generator(8);
        using var batch = Systems(gen, Hidden);
        var f = Run(layer, batch);
        Assert.True((f - batch.NodeFeatures!).abs().max().item<double>() > 1e-3);
        var options = new EquivarianceOptions
        {
            Name = $"SEGNN layer ({norm})",
            Inputs = new InputFieldTypes { NodeFeatures = Hidden.FieldType },
        };
        var report = EquivarianceChecker.Check(b => Run(layer, b), batch, FieldSpec.Node("f", Hidden.FieldType), options);
        Assert.True(report.Passed, report.ToTable(failuresOnly: true));
        foreach (var check in new[] { "rotation", "reflection", "translation", "permutation", "batching" })
            Assert.Contains(report.Cases, c => c.Check == check);
    }

    [Fact]
    public void ShapesAreCheckedWithClearErrors()
    {
        var layer = new SegnnLayer(Hidden, Attr, Attr, "2x0e");
        using var batch = Systems(new Generator(9), Hidden);
        var b = batch with { NodeFeatures = batch.NodeFeatures!.to(ScalarType.Float32), Positions = batch.Positions.to(ScalarType.Float32), EdgeAttributes = batch.EdgeAttributes!.to(ScalarType.Float32) };
        var edges = EdgeContext.FromBatch(b);
        var ea = torch.zeros(b.NumEdges, Attr.Dim);
        var na = torch.zeros(b.NumNodes, Attr.Dim);
        var e = Assert.Throws<GraphValidationException>(() => layer.forward(b.NodeFeatures!, edges, ea, na.narrow(1, 0, 4), torch.zeros(b.NumEdges, 2)));
        Assert.Contains("node attributes have shape [7, 4]; expected [N = 7, 9]", e.Message);
        Assert.Contains("extra message inputs", Assert.Throws<ArgumentException>(() => layer.forward(b.NodeFeatures!, edges, ea, na)).Message);
        Assert.Equal(new long[] { 7, Hidden.Dim }, layer.forward(b.NodeFeatures!, edges, ea, na, torch.zeros(b.NumEdges, 2)).shape);
    }
}
