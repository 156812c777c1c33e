using EquiSharp.Groups;
using EquiSharp.Tests.MessagePassing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquiSharp.Tests.Groups;

public class SphereGridsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(SphereGridKind.Fibonacci)]
    [InlineData(SphereGridKind.Repulsion)]
    public void GridsAreDeterministicUnitVectorsAndWellSpread(SphereGridKind kind)
    {
        foreach (int n in new[] { 1, 2, 12, 16, 64 })
        {
            var a = SphereGrids.Sphere(n, kind);
            Assert.Equal(new long[] { n, 3 }, a.shape);
            Assert.True(E3.MaxAbs(a.norm(1, keepdim: false) - 1) < 1e-14);
            Assert.Equal(0.0, E3.MaxAbs(a - SphereGrids.Sphere(n, kind))); // bit-identical on every call
            if (n < 12) continue;
            double cover = SphereGrids.CoveringRadius(a), separation = SphereGrids.MinimumSeparation(a);
            // Lower bound for any n-point grid: n caps of radius ρ must cover the sphere, n · 2π(1 − cos ρ) ≥ 4π.
            double bound = Math.Acos(1 - 2.0 / n);
            output.WriteLine($"{kind} n={n}: covering radius {cover:F3} rad (cap bound {bound:F3}), min separation {separation:F3} rad");
            Assert.InRange(cover, bound * 0.99, bound * 1.6);
            Assert.True(separation > 0.55 * bound, $"separation {separation}");
        }
    }

    [Fact]
    public void RepulsionSpreadsThePointsMoreEvenlyThanFibonacci()
    {
        foreach (int n in new[] { 12, 16, 32 })
        {
            double fib = SphereGrids.MinimumSeparation(SphereGrids.Sphere(n, SphereGridKind.Fibonacci));
            double rep = SphereGrids.MinimumSeparation(SphereGrids.Sphere(n, SphereGridKind.Repulsion));
            Assert.True(rep > fib, $"n={n}: repulsion separation {rep} vs Fibonacci {fib}");
        }
        // 12 points relax to the icosahedron (separation arctan 2 = 1.1071 rad).
        Assert.Equal(Math.Atan(2), SphereGrids.MinimumSeparation(SphereGrids.Sphere(12)), 3);
    }

    [Theory]
    [InlineData("tetrahedral", 12)]
    [InlineData("octahedral", 24)]
    [InlineData("icosahedral", 60)]
    public void RotationGroupsAreClosedGroupsOfRotations(string name, int order)
    {
        var g = name switch { "tetrahedral" => RotationGroups.Tetrahedral(), "octahedral" => RotationGroups.Octahedral(), _ => RotationGroups.Icosahedral() };
        Assert.Equal(new long[] { order, 3, 3 }, g.shape);
        var eye = torch.eye(3, dtype: ScalarType.Float64);
        Assert.True(E3.MaxAbs(g.matmul(g.transpose(1, 2)) - eye) < 1e-12);
        Assert.True(E3.MaxAbs(torch.linalg.det(g) - 1) < 1e-12);
        // Closure: every product is an element; distinct elements.
        var flat = g.reshape(order, 9);
        var products = g.unsqueeze(1).matmul(g.unsqueeze(0)).reshape(order * order, 9);
        Assert.True(torch.cdist(products, flat).amin(1).max().item<double>() < 1e-6); // cdist uses the matrix-product form (round-off ~1e-8)
        Assert.True((torch.cdist(flat, flat) + 10 * torch.eye(order, dtype: ScalarType.Float64)).min().item<double>() > 0.1);
    }

    [Fact]
    public void SymmetricGridsAreMappedOntoThemselves()
    {
        void Check(Tensor grid, Tensor group)
        {
            var moved = grid.unsqueeze(0).matmul(group.transpose(1, 2));               // [G, n, 3]
            var nearest = torch.cdist(moved, grid.unsqueeze(0).expand(group.shape[0], -1, -1)).amin(2);
            Assert.True(nearest.max().item<double>() < 1e-12);
        }
        Check(SphereGrids.Octahedron(), RotationGroups.Octahedral());
        Check(SphereGrids.Icosahedron(), RotationGroups.Icosahedral());
        Check(SphereGrids.Circle(7), RotationGroups.Cyclic(7));
    }
}
