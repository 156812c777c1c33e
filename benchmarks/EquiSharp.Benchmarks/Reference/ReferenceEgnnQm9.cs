using EquiSharp.Datasets.Molecules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks.Reference;

/// <summary>
/// The official PyTorch EGNN for QM9 (Satorras et al., github.com/vgsatorras/egnn: <c>qm9/models.py</c>,
/// <c>models/gcl.py</c>, <c>main_qm9.py</c> with its defaults: 7 layers, hidden 128, attention, no node
/// attributes), rebuilt operation for operation in TorchSharp as a same-machine stand-in for the Python
/// reference, which cannot be run where no PyTorch is installed. It issues the same libtorch
/// operations in the same order on the same shapes, without the Python interpreter between them, so
/// its time is a lower bound of the Python step's on the same libtorch build:
/// <list type="bullet">
/// <item>dense batches: every molecule padded to n atoms, n² directed edges per molecule including the
/// self-loops, which the edge mask zeroes (so 18-atom molecules give 324 edges each, not 306);</item>
/// <item>per layer: <c>x[row] − x[col]</c> and its squared norm, <c>cat[h[row], h[col], r²]</c> through
/// Linear(257, 128), SiLU, Linear(128, 128), SiLU, attention <c>sigmoid(Linear(128, 1))</c>, times the
/// edge mask, <c>scatter_add_</c> onto the nodes, <c>cat[h, agg]</c> through Linear(256, 128), SiLU,
/// Linear(128, 128) and the residual (the coordinate network is deleted in the QM9 model);</item>
/// <item>node decoder, node mask, sum per molecule, graph decoder; the input features are the one-hot
/// species times powers 0..2 of charge / 9, computed in the step as <c>preprocess_input</c> does, in its
/// order (species-major; EquiSharp's <see cref="AtomFeatureKind.ChargePowers"/> is power-major, so the
/// embedding's columns are a permutation of each other's).</item>
/// </list>
/// Not included (so the Python step is slower than this): the interpreter, and the Python loop that
/// rebuilds the edge list for every batch in <c>get_adj_matrix</c> (its cache is never filled).
/// </summary>
public sealed class ReferenceEgnnQm9 : nn.Module<ReferenceEgnnQm9.Batch, Tensor>
{
    /// <summary>A dense batch as the reference's data loader gives it.</summary>
    /// <param name="OneHot">[B, n, 5] one-hot species (H, C, N, O, F) as float.</param>
    /// <param name="Charges">[B, n] nuclear charges as float.</param>
    /// <param name="Positions">[B·n, 3].</param>
    /// <param name="NodeMask">[B·n, 1].</param>
    /// <param name="EdgeMask">[B·n·n, 1] (zero on the self-loops and padding).</param>
    /// <param name="Rows">[B·n·n] target i of every edge (aggregation index).</param>
    /// <param name="Cols">[B·n·n] source j of every edge.</param>
    /// <param name="AtomsPerMolecule">n.</param>
    public sealed record Batch(Tensor OneHot, Tensor Charges, Tensor Positions, Tensor NodeMask, Tensor EdgeMask, Tensor Rows, Tensor Cols, int AtomsPerMolecule);

    private sealed class Layer : nn.Module
    {
        public readonly Linear Edge1, Edge2, Node1, Node2, Attention;

        private readonly bool indexSelect;

        public Layer(int hidden, bool indexSelect) : base(nameof(Layer))
        {
            this.indexSelect = indexSelect;
            Edge1 = nn.Linear(2 * hidden + 1, hidden);
            Edge2 = nn.Linear(hidden, hidden);
            Node1 = nn.Linear(2 * hidden, hidden);
            Node2 = nn.Linear(hidden, hidden);
            Attention = nn.Linear(hidden, 1);
            RegisterComponents();
        }

        public Tensor Forward(Tensor h, Tensor x, Tensor rows, Tensor cols, Tensor edgeMask)
        {
            var coordDiff = indexSelect ? x.index_select(0, rows) - x.index_select(0, cols) : x[rows] - x[cols];
            var radial = coordDiff.pow(2).sum(1).unsqueeze(1);
            var edgeIn = torch.cat(indexSelect ? [h.index_select(0, rows), h.index_select(0, cols), radial] : [h[rows], h[cols], radial], 1);
            var m = nn.functional.silu(Edge2.forward(nn.functional.silu(Edge1.forward(edgeIn))));
            m = m * torch.sigmoid(Attention.forward(m));
            m = m * edgeMask;
            var agg = m.new_zeros(h.shape[0], m.shape[1]).scatter_add_(0, rows.unsqueeze(-1).expand(-1, m.shape[1]), m);
            var output = Node2.forward(nn.functional.silu(Node1.forward(torch.cat([h, agg], 1))));
            return h + output;
        }
    }

    private readonly Linear embedding;
    private readonly ModuleList<Layer> layers = new();
    private readonly Linear nodeDec1, nodeDec2, graphDec1, graphDec2;
    private readonly int hidden;

    /// <summary>Creates the model with the reference's defaults (hidden 128, 7 layers, 15 input features).</summary>
    /// <param name="hidden">Hidden width.</param>
    /// <param name="layerCount">Message passing layers.</param>
    /// <param name="inputFeatures">Input node features.</param>
    /// <param name="indexSelect">
    /// Gather <c>h[row]</c> and <c>x[row]</c> with <c>index_select</c> instead of advanced indexing: the same values,
    /// but the backward is <c>index_add_</c> instead of an accumulating <c>index_put_</c>, which libtorch 2.10 runs with
    /// atomic adds when it has two threads (about 15 ms per call here against 2 ms on one thread). A variant that
    /// favours the reference, for a conservative comparison.
    /// </param>
    public ReferenceEgnnQm9(int hidden = 128, int layerCount = 7, int inputFeatures = 15, bool indexSelect = false) : base(nameof(ReferenceEgnnQm9))
    {
        this.hidden = hidden;
        embedding = nn.Linear(inputFeatures, hidden);
        for (int i = 0; i < layerCount; i++) layers.Add(new Layer(hidden, indexSelect));
        nodeDec1 = nn.Linear(hidden, hidden);
        nodeDec2 = nn.Linear(hidden, hidden);
        graphDec1 = nn.Linear(hidden, hidden);
        graphDec2 = nn.Linear(hidden, 1);
        RegisterComponents();
    }

    /// <summary>One prediction per molecule [B].</summary>
    public override Tensor forward(Batch batch)
    {
        var powers = torch.arange(3.0, dtype: batch.Charges.dtype);
        var chargeTensor = (batch.Charges.unsqueeze(-1) / 9.0).pow(powers).view(batch.Charges.shape[0], batch.Charges.shape[1], 1, 3);
        var h0 = (batch.OneHot.unsqueeze(-1) * chargeTensor).view(batch.Charges.shape[0] * batch.Charges.shape[1], -1);
        var h = embedding.forward(h0);
        foreach (var layer in layers)
            h = layer.Forward(h, batch.Positions, batch.Rows, batch.Cols, batch.EdgeMask);
        h = nodeDec2.forward(nn.functional.silu(nodeDec1.forward(h)));
        h = (h * batch.NodeMask).view(-1, batch.AtomsPerMolecule, hidden).sum(1);
        return graphDec2.forward(nn.functional.silu(graphDec1.forward(h))).squeeze(1);
    }

    /// <summary>
    /// The molecules <paramref name="indices"/> of <paramref name="set"/> as the reference's data loader
    /// batches them: padded to the largest molecule's n atoms (zero features, charges and positions),
    /// node mask 1 on real atoms, all n² edges of each molecule with the edge mask 1 between two
    /// distinct real atoms. Species H, C, N, O, F.
    /// </summary>
    public static Batch FromMolecules(MoleculeSet set, IReadOnlyList<int> indices, ScalarType dtype = ScalarType.Float32)
    {
        int b = indices.Count, n = indices.Max(set.Atoms);
        var oneHot = new double[b * n * 5];
        var charges = new double[b * n];
        var positions = new double[b * n * 3];
        var nodeMask = new double[b * n];
        for (int m = 0; m < b; m++)
        {
            int first = set.Offsets[indices[m]];
            for (int a = 0; a < set.Atoms(indices[m]); a++)
            {
                int z = set.AtomicNumbers[first + a], node = m * n + a;
                oneHot[node * 5 + Elements.Qm9Index(z)] = 1;
                charges[node] = z;
                nodeMask[node] = 1;
                for (int k = 0; k < 3; k++) positions[node * 3 + k] = set.Positions[(first + a) * 3 + k];
            }
        }
        var rows = new long[b * n * n];
        var cols = new long[rows.Length];
        var edgeMask = new double[rows.Length];
        int e = 0;
        for (int m = 0; m < b; m++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++, e++)
                {
                    rows[e] = m * n + i;
                    cols[e] = m * n + j;
                    edgeMask[e] = i != j ? nodeMask[m * n + i] * nodeMask[m * n + j] : 0;
                }
        return new Batch(torch.tensor(oneHot, dtype: dtype).view(b, n, 5), torch.tensor(charges, dtype: dtype).view(b, n),
            torch.tensor(positions, dtype: dtype).view(-1, 3), torch.tensor(nodeMask, dtype: dtype).view(-1, 1),
            torch.tensor(edgeMask, dtype: dtype).view(-1, 1), torch.tensor(rows), torch.tensor(cols), n);
    }
}
