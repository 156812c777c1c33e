using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.GroupConv;

/// <summary>
/// ConvNeXt-style residual block around a <see cref="FiberBundleConv"/> (as in PONITA): convolution,
/// layer norm over the channels, pointwise MLP C → wC → C with GELU, a learned per-channel layer scale
/// (initialised small), and a residual connection. Pointwise operations act on each (node, orientation)
/// alike, so the block commutes with permutations of the orientation grid.
/// </summary>
public sealed class ConvNextBlock : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly FiberBundleConv conv;
    private readonly LayerNorm norm;
    private readonly Linear expand;
    private readonly Linear project;
    private readonly Parameter layerScale;

    /// <summary>Creates the block.</summary>
    /// <param name="channels">Channels C.</param>
    /// <param name="widening">Widening factor w of the pointwise MLP (4 in ConvNeXt).</param>
    /// <param name="layerScale">Initial layer scale (1e-6 in ConvNeXt; 0 or less disables it).</param>
    /// <param name="name">Module name.</param>
    public ConvNextBlock(int channels, int widening = 4, double layerScale = 1e-6, string name = nameof(ConvNextBlock)) : base(name)
    {
        if (widening < 1) throw new ArgumentOutOfRangeException(nameof(widening), widening, "Must be positive.");
        conv = new FiberBundleConv(channels, "conv");
        norm = nn.LayerNorm(channels);
        expand = nn.Linear(channels, widening * channels);
        project = nn.Linear(widening * channels, channels);
        this.layerScale = nn.Parameter(torch.full(channels, layerScale > 0 ? layerScale : 1.0), requires_grad: layerScale > 0);
        RegisterComponents();
    }

    /// <summary>The block's convolution.</summary>
    internal FiberBundleConv Conv => conv;

    /// <inheritdoc cref="FiberBundleConv.forward(Tensor, Tensor, Tensor, Tensor)"/>
    public override Tensor forward(Tensor features, Tensor spatialKernel, Tensor orientationKernel, Tensor edgeIndex) =>
        forward(features, spatialKernel, orientationKernel, edgeIndex, null);

    /// <summary>Applies the block with an optional self-loop kernel (see <see cref="FiberBundleConv"/>).</summary>
    public Tensor forward(Tensor features, Tensor spatialKernel, Tensor orientationKernel, Tensor edgeIndex, Tensor? selfKernel)
    {
        var y = conv.forward(features, spatialKernel, orientationKernel, edgeIndex, selfKernel);
        y = project.forward(nn.functional.gelu(expand.forward(norm.forward(y))));
        return features + layerScale * y;
    }
}
