using EquiSharp.Graphs;
using EquiSharp.MessagePassing;
using EquiSharp.Readout;
using EquiSharp.Steerable;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquiSharp.Models;

/// <summary>
/// SchNet (Schütt et al. 2017/2018): atom embedding, <see cref="MolecularModelOptions.Layers"/> interaction
/// blocks and an atom-wise output network summed over atoms. Each interaction is a continuous-filter
/// convolution: filters W_ij = Dense(ssp(Dense(rbf(r_ij)))) · C(r_ij) from <see cref="MolecularModelOptions.RadialBasis"/>
/// Gaussians on [0, cutoff] and the cosine cutoff C, messages lin1(h_j) ⊙ W_ij summed over j, then
/// Dense–ssp–Dense and a residual update (ssp = shifted softplus). Depends on distances only: invariant
/// to rotations, reflections, translations and permutations, and smooth in the positions (forces).
/// </summary>
public sealed class SchNet : nn.Module<GraphBatch, Tensor>
{
    private readonly Linear embedding, output1, output2;
    private readonly GaussianBasis basis;
    private readonly ModuleList<Linear> filter1, filter2, lin1, lin2, lin3;

    /// <summary>Creates the model.</summary>
    public SchNet(MolecularModelOptions options) : base(nameof(SchNet))
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        int h = options.Hidden, l = options.Layers;
        embedding = nn.Linear(options.NodeChannels, h, hasBias: false);
        basis = new GaussianBasis(options.RadialBasis, options.Cutoff);
        filter1 = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Linear(options.RadialBasis, h)).ToArray());
        filter2 = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Linear(h, h)).ToArray());
        lin1 = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Linear(h, h, hasBias: false)).ToArray());
        lin2 = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Linear(h, h)).ToArray());
        lin3 = nn.ModuleList(Enumerable.Range(0, l).Select(_ => nn.Linear(h, h)).ToArray());
        output1 = nn.Linear(h, Math.Max(1, h / 2));
        output2 = nn.Linear(Math.Max(1, h / 2), options.Outputs);
        RegisterComponents();
    }

    /// <summary>The hyper-parameters.</summary>
    public MolecularModelOptions Options { get; }

    /// <inheritdoc />
    public override Tensor forward(GraphBatch batch)
    {
        var (x, features) = MolecularModels.Inputs(batch, Options, nameof(SchNet));
        var source = batch.EdgeIndex[0];
        var target = batch.EdgeIndex[1];
        var r = MolecularModels.Distances(x, batch.EdgeIndex);
        var rbf = basis.forward(r);
        var envelope = Cutoffs.Cosine(r, Options.Cutoff).unsqueeze(1);
        var h = embedding.forward(features);
        for (int k = 0; k < Options.Layers; k++)
        {
            var w = filter2[k].forward(MolecularModels.ShiftedSoftplus(filter1[k].forward(rbf))) * envelope;
            var messages = lin1[k].forward(h).index_select(0, source) * w;
            var aggregated = torch.zeros(h.shape[0], h.shape[1], dtype: h.dtype, device: h.device).index_add_(0, target, messages, EgnnLayer.One);
            h = h + lin3[k].forward(MolecularModels.ShiftedSoftplus(lin2[k].forward(aggregated)));
        }
        var atomwise = output2.forward(MolecularModels.ShiftedSoftplus(output1.forward(h)));
        return GlobalPool.Sum(atomwise, batch.Batch, batch.NumGraphs);
    }
}
