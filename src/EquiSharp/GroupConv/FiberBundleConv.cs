using EquiSharp.Aggregation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.GroupConv;

/// <summary>
/// Separable group convolution on position–orientation space: a depthwise spatial convolution over the
/// edges at each orientation, then a depthwise convolution over the orientation grid, then a bias.
/// <code>
///   y_i(o, c)  = SUM_(j → i) k_s(inv(x_j − x_i, o), c) f_j(o, c)
///   f'_i(o, c) = 1/O · SUM_o' k_o(o · o', c) y_i(o', c) + b_c
/// </code>
/// The kernels k_s [E, O, C] and k_o [O, O, C] are given by the caller (in <see cref="Ponita"/>: linear maps
/// of basis functions of the pair invariants <see cref="PositionOrientation.SpatialInvariants"/> and
/// <see cref="PositionOrientation.FiberInvariants"/>, each layer's block of rows of one bias-free map), so
/// every tensor op works on whole [E, O, C] and [O, O, C] blocks.
/// </summary>
public sealed class FiberBundleConv : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly Parameter bias;

    /// <summary>Creates the convolution.</summary>
    /// <param name="channels">Feature channels C (depthwise: input = output).</param>
    /// <param name="name">Module name.</param>
    public FiberBundleConv(int channels, string name = nameof(FiberBundleConv)) : base(name)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Must be positive.");
        bias = nn.Parameter(torch.zeros(channels));
        RegisterComponents();
        Channels = channels;
    }

    /// <summary>Channels C.</summary>
    public int Channels { get; }

    /// <summary>When set, each forward records <see cref="LastStatistics"/> (used by <see cref="Ponita"/>'s kernel calibration).</summary>
    internal bool RecordStatistics { get; set; }

    /// <summary>Standard deviations of the input, of the spatial convolution's output and of the orientation convolution's output (before the bias) in the last recorded forward.</summary>
    internal (double Input, double Spatial, double Orientation)? LastStatistics { get; private set; }

    /// <summary>Applies the convolution.</summary>
    /// <param name="features">Node features on the grid f [N, O, C].</param>
    /// <param name="spatialKernel">Spatial kernel k_s [E, O, C] (at the receiver's orientation).</param>
    /// <param name="orientationKernel">Orientation kernel k_o [O, O', C].</param>
    /// <param name="edgeIndex">Edges [2, E]: row 0 source j, row 1 target i.</param>
    /// <returns>f' [N, O, C].</returns>
    public override Tensor forward(Tensor features, Tensor spatialKernel, Tensor orientationKernel, Tensor edgeIndex) =>
        forward(features, spatialKernel, orientationKernel, edgeIndex, null);

    /// <summary>Applies the convolution with a self-loop term: <paramref name="selfKernel"/> [1 or N, O, C] times f_i is added to the aggregate.</summary>
    public Tensor forward(Tensor features, Tensor spatialKernel, Tensor orientationKernel, Tensor edgeIndex, Tensor? selfKernel)
    {
        long n = features.shape[0], o = features.shape[1];
        var messages = features.index_select(0, edgeIndex[0]) * spatialKernel; // [E, O, C]
        var aggregated = Scatter.Sum(messages, edgeIndex[1], n);              // [N, O, C]
        if (selfKernel is not null) aggregated = aggregated + features * selfKernel;
        // [C, N, O'] @ [C, O', O] -> [C, N, O]
        var mixed = aggregated.permute(2, 0, 1).matmul(orientationKernel.permute(2, 1, 0)).permute(1, 2, 0).contiguous(); // node-major again for the pointwise MLP
        var result = mixed / o;
        if (RecordStatistics)
            LastStatistics = (features.std().ToDouble(), aggregated.std().ToDouble(), result.std().ToDouble());
        return result + bias;
    }
}
