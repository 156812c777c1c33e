using EquiSharp.Graphs;
using EquiSharp.Steerable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.GroupConv;

/// <summary>
/// PONITA (Bekkers et al., "Fast, expressive SE(n) equivariant networks through weight-sharing in
/// position-orientation space", ICLR 2024), fiber-bundle variant: every node carries a function on a
/// fixed orientation grid [O, d] (S² for d = 3, S¹ for d = 2). Inputs are lifted
/// (<see cref="PositionOrientation.Lift"/>) and embedded linearly; basis networks (polynomial features of
/// the pair invariants → MLP → GELU, computed once per forward and shared by all layers) give every
/// layer its depthwise spatial and orientation kernels (bias-free linear maps of the bases, one block of
/// rows of one map per layer) for its <see cref="ConvNextBlock"/>; per-layer linear readouts are averaged and mapped to scalars (grid mean)
/// and vectors (grid average of f(o) o).
/// </summary>
/// <remarks>
/// Invariant to translations and to permutations of the nodes. Exactly equivariant to rotations that
/// map the grid onto itself (e.g. the octahedral group for <see cref="Groups.SphereGrids.Octahedron"/>);
/// approximately equivariant to other rotations, with an error that shrinks as the grid gets finer
/// (docs/ponita.md gives measured values).
/// </remarks>
public sealed class Ponita : nn.Module<(Tensor? Scalars, Tensor? Vectors, Tensor Positions, Tensor EdgeIndex), (Tensor Scalars, Tensor Vectors)>
{
    private readonly double[] gridValues;
    private readonly long[] gridShape;
    private readonly PolynomialFeatures polynomial;
    private readonly Sequential spatialBasis;
    private readonly Sequential fiberBasis;
    private readonly Linear spatialKernels;
    private readonly Linear fiberKernels;
    private readonly Linear embedding;
    private readonly ModuleList<ConvNextBlock> blocks;
    private readonly ModuleList<Linear> readouts;
    private readonly Tensor? calibrated; // a buffer (saved with the weights) when Options.Calibrate

    /// <summary>Creates the model.</summary>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="grid">Orientation grid [O, d] of unit vectors (copied; e.g. <see cref="Groups.SphereGrids.Sphere"/>).</param>
    public Ponita(PonitaOptions options, Tensor grid) : base(nameof(Ponita))
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(grid);
        options.Validate();
        if (grid.dim() != 2 || grid.shape[0] < 1 || grid.shape[1] < 2 || !grid.is_floating_point())
            throw new ArgumentException($"The orientation grid must be a floating point [O, d ≥ 2] tensor, got {GraphValidation.Shape(grid)} ({grid.dtype}).", nameof(grid));
        Options = options;
        gridShape = grid.shape.ToArray();
        gridValues = grid.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
        int c = options.Hidden, b = options.BasisDimension;
        polynomial = new PolynomialFeatures(options.Degree + 1);
        spatialBasis = nn.Sequential(("linear1", nn.Linear(polynomial.OutputDimension(2), c)), ("gelu1", nn.GELU()),
            ("linear2", nn.Linear(c, b)), ("gelu2", nn.GELU()));
        fiberBasis = nn.Sequential(("linear1", nn.Linear(polynomial.OutputDimension(1), c)), ("gelu1", nn.GELU()),
            ("linear2", nn.Linear(c, b)), ("gelu2", nn.GELU()));
        spatialKernels = nn.Linear(b, options.Layers * c, hasBias: false);
        fiberKernels = nn.Linear(b, options.Layers * c, hasBias: false);
        embedding = nn.Linear(options.InputScalars + options.InputVectors, c, hasBias: false);
        blocks = nn.ModuleList(Enumerable.Range(0, options.Layers)
            .Select(k => new ConvNextBlock(c, options.Widening, options.LayerScale, $"block{k}")).ToArray());
        int readoutCount = options.ReadoutAllLayers ? options.Layers : 1;
        readouts = nn.ModuleList(Enumerable.Range(0, readoutCount)
            .Select(_ => nn.Linear(c, options.OutputScalars + options.OutputVectors)).ToArray());
        if (options.Calibrate) calibrated = torch.tensor(false);
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public PonitaOptions Options { get; }

    /// <summary>
    /// Whether the kernels have been calibrated (<see cref="PonitaOptions.Calibrate"/>); null when calibration is
    /// off. The flag is a buffer, so a loaded checkpoint is not calibrated a second time.
    /// </summary>
    public bool? Calibrated => calibrated is null ? null : calibrated.item<bool>();

    /// <summary>Number of orientations O.</summary>
    public long Orientations => gridShape[0];

    /// <summary>Spatial dimension d.</summary>
    public long Dimension => gridShape[1];

    /// <summary>The orientation grid [O, d] in the given dtype and device.</summary>
    public Tensor Grid(ScalarType dtype, Device? device = null) => torch.tensor(gridValues, gridShape, dtype, device);

    /// <summary>Applies the network.</summary>
    /// <param name="input">Node scalars [N, S_in] (null when S_in = 0), node vectors [N, V_in, d] (null when
    /// V_in = 0), positions [N, d] and edges [2, E] (row 0 source j, row 1 target i; without self-loops when
    /// <see cref="PonitaOptions.SelfLoops"/> adds them).</param>
    /// <returns>Scalars [N, S_out] and vectors [N, V_out, d].</returns>
    public override (Tensor Scalars, Tensor Vectors) forward((Tensor? Scalars, Tensor? Vectors, Tensor Positions, Tensor EdgeIndex) input)
    {
        if (calibrated is not null && training && !calibrated.item<bool>()) Calibrate(input);
        return Run(input);
    }

    /// <summary>
    /// The reference implementation's one-off rescaling of the kernels: one forward without gradients on
    /// this (first training) batch records, per layer, the standard deviations of the convolution's input
    /// s_in, of its spatial output s_1 and of its orientation output s_2; the layer's spatial kernel is then
    /// multiplied by s_in/s_1 and its orientation kernel by s_1/s_2, so both convolutions start out
    /// preserving the scale of their input. Layers with a zero or non-finite statistic are left as they are.
    /// </summary>
    private void Calibrate((Tensor? Scalars, Tensor? Vectors, Tensor Positions, Tensor EdgeIndex) input)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var block in blocks) block.Conv.RecordStatistics = true;
        try { Run(input); }
        finally { foreach (var block in blocks) block.Conv.RecordStatistics = false; }
        long c = Options.Hidden;
        for (int k = 0; k < blocks.Count; k++)
        {
            var (sIn, s1, s2) = blocks[k].Conv.LastStatistics!.Value;
            if (!(double.IsFinite(sIn) && double.IsFinite(s1) && double.IsFinite(s2) && sIn > 0 && s1 > 0 && s2 > 0)) continue;
            spatialKernels.weight!.narrow(0, k * c, c).mul_(sIn / s1);
            fiberKernels.weight!.narrow(0, k * c, c).mul_(s1 / s2);
        }
        calibrated!.fill_(true);
    }

    private (Tensor Scalars, Tensor Vectors) Run((Tensor? Scalars, Tensor? Vectors, Tensor Positions, Tensor EdgeIndex) input)
    {
        var (scalars, vectors, positions, edgeIndex) = input;
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(edgeIndex);
        if (positions.dim() != 2 || positions.shape[1] != Dimension)
            throw new GraphValidationException($"Ponita: positions have shape {GraphValidation.Shape(positions)}; expected [N, {Dimension}].");
        if (edgeIndex.dim() != 2 || edgeIndex.shape[0] != 2 || edgeIndex.dtype != ScalarType.Int64)
            throw new GraphValidationException($"Ponita: edge index has shape {GraphValidation.Shape(edgeIndex)} ({edgeIndex.dtype}); expected int64 [2, E].");
        CheckChannels(scalars, Options.InputScalars, "scalars", 2);
        CheckChannels(vectors, Options.InputVectors, "vectors", 3);
        var grid = Grid(positions.dtype, positions.device);

        var relative = positions.index_select(0, edgeIndex[0]) - positions.index_select(0, edgeIndex[1]);
        var spatial = spatialBasis.forward(polynomial.forward(PositionOrientation.SpatialInvariants(relative, grid))); // [E, O, B]
        if (Options.Cutoff is double cutoff)
            spatial = spatial * Cutoffs.Cosine(relative.norm(1, keepdim: true), cutoff).unsqueeze(2);
        var spatialKernel = PerLayer(spatialKernels, spatial);                                                     // L x [E, O, C]
        var fiberKernel = PerLayer(fiberKernels, fiberBasis.forward(polynomial.forward(PositionOrientation.FiberInvariants(grid)))); // L x [O, O, C]
        Tensor[]? selfKernel = null;
        if (Options.SelfLoops) // the kernel at r = 0 (invariants (0, 0) at every orientation), the same for every node
        {
            var zero = torch.zeros(1, Dimension, dtype: positions.dtype, device: positions.device);
            selfKernel = PerLayer(spatialKernels, spatialBasis.forward(polynomial.forward(PositionOrientation.SpatialInvariants(zero, grid)))); // L x [1, O, C]
        }

        var h = embedding.forward(PositionOrientation.Lift(Options.InputScalars > 0 ? scalars : null,
            Options.InputVectors > 0 ? vectors : null, grid));                                                    // [N, O, C]
        Tensor? readout = null;
        for (int k = 0; k < blocks.Count; k++)
        {
            h = blocks[k].forward(h, spatialKernel[k], fiberKernel[k], edgeIndex, selfKernel?[k]);
            int r = Options.ReadoutAllLayers ? k : k - (blocks.Count - 1);
            if (r < 0) continue;
            var y = readouts[r].forward(h);
            readout = readout is null ? y : readout + y;
        }
        if (Options.ReadoutAllLayers) readout = readout! / blocks.Count;
        return PositionOrientation.Readout(readout!, grid, Options.OutputScalars);
    }

    /// <summary>
    /// Every layer's kernel [..., C] from the shared basis [..., B]: one product per layer with its rows of
    /// the bias-free map, each written contiguously. (One product with all L·C rows followed by a split
    /// made a [E, O, L·C] tensor and its copy: above glibc's 32 MB heap limit at PONITA's sizes, so fresh
    /// pages to zero in every forward and backward.)
    /// </summary>
    private Tensor[] PerLayer(Linear kernels, Tensor basis)
    {
        long c = Options.Hidden;
        var weight = kernels.weight!;
        var result = new Tensor[blocks.Count];
        for (int k = 0; k < result.Length; k++)
            result[k] = nn.functional.linear(basis, weight.narrow(0, k * c, c));
        return result;
    }

    private static void CheckChannels(Tensor? t, int channels, string name, int rank)
    {
        if (channels == 0) return;
        if (t is null)
            throw new GraphValidationException($"Ponita: {channels} input {name} channel(s) configured but none given.");
        if (t.dim() != rank || t.shape[1] != channels)
            throw new GraphValidationException($"Ponita: input {name} have shape {GraphValidation.Shape(t)}; expected [N, {channels}{(rank == 3 ? ", d" : "")}].");
    }
}
