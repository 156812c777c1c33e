using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// The plain (non-equivariant) GNN baseline of the EGNN paper's N-body experiment: node input
/// [x, v] (6 numbers, raw Cartesian coordinates) embedded by a linear layer; <see cref="NBodyModelOptions.Layers"/>
/// message passing layers with m_ij = φ_e(h_i, h_j, q_i q_j) (Linear→SiLU→Linear→SiLU, optional
/// attention gate), h_i' = h_i + φ_h(h_i, SUM_j m_ij) (Linear→SiLU→Linear); a decoder
/// Linear→SiLU→Linear(3) predicting the positions at the target frame directly.
/// Charges enter only through the edge attributes, as in the reference. It is translation- and
/// rotation-<i>dependent</i> by construction (that is the point of the baseline).
/// </summary>
public sealed class NBodyGnn : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear embedding;
    private readonly ModuleList<GclLayer> layers;
    private readonly Sequential decoder;

    /// <summary>Creates the model.</summary>
    public NBodyGnn(NBodyModelOptions? options = null) : base(nameof(NBodyGnn))
    {
        Options = options ?? new NBodyModelOptions();
        Options.Validate();
        long h = Options.Hidden;
        embedding = nn.Linear(6, h);
        layers = nn.ModuleList(Enumerable.Range(0, Options.Layers).Select(k => new GclLayer(h, Options.Attention, $"layer{k}")).ToArray());
        decoder = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, 3));
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public NBodyModelOptions Options { get; }

    /// <summary>Check the edge index range on every forward pass (on by default).</summary>
    public bool ValidateEdges { get; set; } = true;

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, v) = NBodyModels.PositionsAndVelocities(batch, nameof(NBodyGnn));
        var charges = NBodyModels.ChargeProducts(batch, nameof(NBodyGnn));
        var edges = EgnnEdges.Create(batch.EdgeIndex, batch.NumNodes, x.dtype, charges, ValidateEdges);
        var h = embedding.forward(torch.cat(new[] { x, v }, 1));
        foreach (var layer in layers)
            h = layer.forward(h, edges);
        return decoder.forward(h);
    }

    /// <summary>The reference's GCL: edge MLP on [h_i, h_j, a_ij], summed messages, residual node MLP.</summary>
    internal sealed class GclLayer : nn.Module<Tensor, EgnnEdges, Tensor>
    {
        private readonly Linear edge1, edge2, node1, node2;
        private readonly Linear? att;
        private readonly long hidden;

        public GclLayer(long hidden, bool attention, string name) : base(name)
        {
            this.hidden = hidden;
            edge1 = nn.Linear(2 * hidden + 1, hidden);
            edge2 = nn.Linear(hidden, hidden);
            node1 = nn.Linear(2 * hidden, hidden);
            node2 = nn.Linear(hidden, hidden);
            if (attention) att = nn.Linear(hidden, 1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor h, EgnnEdges edges)
        {
            var y = edge2.forward(EgnnLayer.PairLinearSilu(edge1, h, edges.Attributes!, edges));
            var m = att is null ? nn.functional.silu(y) : EgnnLayer.SiluGate(y, att.weight!, att.bias);
            var agg = torch.zeros(edges.NumNodes, hidden, dtype: m.dtype, device: m.device).index_add_(0, edges.Target, m, EgnnLayer.One);
            return h + node2.forward(nn.functional.silu(node1.forward(torch.cat(new[] { h, agg }, 1))));
        }
    }
}
