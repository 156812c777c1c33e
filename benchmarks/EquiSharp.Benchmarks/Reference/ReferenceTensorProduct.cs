using EquiSharp.Steerable;
using TorchSharp;
using static TorchSharp.torch;

namespace EquiSharp.Benchmarks.Reference;

/// <summary>
/// The forward pass of e3nn's <c>o3.TensorProduct</c> (e3nn 0.5, <c>codegen_tensor_product_left_right</c> with
/// its defaults: specialised code on, einsums optimised by opt_einsum_fx) rebuilt from libtorch operations, as
/// a same-machine stand-in for e3nn where PyTorch cannot be installed. For the connection modes uvw and uvu
/// with weights (per row or shared), it issues what e3nn's generated graph issues:
/// <list type="bullet">
/// <item>each input block as a view [rows, mul, 2l + 1] (or [rows, mul] for l = 0), each path's weights as a view
/// of the flat weight tensor;</item>
/// <item>per path, e3nn's einsum: the specialised forms when an input or the output has l = 0
/// (e.g. <c>zuv,zu,zvj->zuj</c> divided by √(2l_out + 1)), otherwise the 3j contraction with the outer product
/// of the inputs fused in (<c>zuv,ijk,zui,zvj->zuk</c>), as <c>fuse_einsums</c> leaves it;</item>
/// <item>each einsum split into two-operand <c>torch.einsum</c> calls in the order opt_einsum's "optimal" search
/// picks for a batch of 4 rows (the shapes e3nn optimises with), operands and intermediate indices in the order
/// opt_einsum 3.4 gives them;</item>
/// <item>the path's constant (path weight and specialisation factor) multiplied onto the smallest operand or
/// intermediate at that batch size, or onto the result, as <c>fuse_scalars</c> places it;</item>
/// <item>per output block the sum of its paths (<c>out = out + x</c>, zeros when none), then one <c>cat</c>.</item>
/// </list>
/// Pairwise contractions that opt_einsum would send to <c>tensordot</c> (no index shared with the output) go
/// through <c>torch.einsum</c> here; both become a permute and a matrix product in libtorch. Not included: the
/// Python interpreter and TorchScript's executor. Backward passes are libtorch's autograd of these operations,
/// as in PyTorch.
/// </summary>
public sealed class ReferenceTensorProduct
{
    private enum Source { Weight, X1, X2, W3j }

    private sealed record Operand(Source Source, int Block, bool Flat, string Indices, long WeightOffset, long[] WeightShape);

    /// <summary>Contract the operands at positions <paramref name="High"/> and <paramref name="Low"/> (High &gt; Low) into a new last operand.</summary>
    private sealed record Step(int High, int Low, string Equation);

    /// <summary>Where the path's constant goes: onto an argument of a step (before it runs), or onto the result (Step = -1).</summary>
    private sealed record ScalarSite(int Step, int Argument);

    private sealed record PathPlan(int Out, Operand[] Operands, Step[] Steps, double Scalar, ScalarSite Site, long OutDim, Tensor? W3j);

    private readonly Irreps in1, in2, output;
    private readonly PathPlan[] plans;
    private readonly Dictionary<(int, int, int), Tensor> w3j = new();
    private readonly ScalarType dtype;

    /// <summary>Whether the weights are one shared vector (true) or one row per input row (false).</summary>
    public bool SharedWeights { get; }

    /// <summary>Number of weights of one row (or of the shared vector).</summary>
    public long WeightNumel { get; }

    /// <summary>Builds the reference graph of <paramref name="product"/>'s irreps, paths and path constants.</summary>
    /// <param name="product">A tensor product whose paths are all uvw or uvu with weights.</param>
    /// <param name="sharedWeights">Shared weights (e3nn's <c>shared_weights=True</c>) or per-row weights.</param>
    /// <param name="dtype">Floating dtype of the inputs (the 3j constants are made in it).</param>
    public ReferenceTensorProduct(TensorProduct product, bool sharedWeights, ScalarType dtype = ScalarType.Float32)
    {
        this.dtype = dtype;
        in1 = product.IrrepsIn1;
        in2 = product.IrrepsIn2;
        output = product.IrrepsOut;
        SharedWeights = sharedWeights;
        var list = new List<PathPlan>();
        long offset = 0;
        for (int p = 0; p < product.Instructions.Count; p++)
        {
            var ins = product.Instructions[p];
            if (!ins.HasWeight || ins.Mode is not (ConnectionMode.Uvw or ConnectionMode.Uvu))
                throw new NotSupportedException($"ReferenceTensorProduct: path {p} has mode {ins.Mode} (weights {ins.HasWeight}); only uvw and uvu with weights are rebuilt.");
            var (b1, b2, bo) = (in1[ins.In1], in2[ins.In2], output[ins.Out]);
            var shape = ins.WeightShape(b1.Mul, b2.Mul, bo.Mul);
            list.Add(Plan(ins, shape, offset, product.PathCoefficient(p)));
            offset += shape.Aggregate(1L, (a, s) => a * s);
        }
        WeightNumel = offset;
        plans = list.ToArray();
    }

    private PathPlan Plan(TensorProductInstruction ins, long[] weightShape, long weightOffset, double pathWeight)
    {
        var (b1, b2, bo) = (in1[ins.In1], in2[ins.In2], output[ins.Out]);
        int l1 = b1.Irrep.L, l2 = b2.Irrep.L, lo = bo.Irrep.L;
        bool uvu = ins.Mode == ConnectionMode.Uvu;
        string z = SharedWeights ? "" : "z";
        string w = z + (uvu ? "uv" : "uvw"), target = uvu ? "zu" : "zw";
        var weight = new Operand(Source.Weight, -1, false, w, weightOffset, weightShape);
        Operand X1(bool flat, string idx) => new(Source.X1, ins.In1, flat, idx, 0, []);
        Operand X2(bool flat, string idx) => new(Source.X2, ins.In2, flat, idx, 0, []);
        Operand[] operands;
        string result;
        Tensor? w3jSymbol = null;
        double scalar = pathWeight;
        if (l1 == 0 && l2 == 0 && lo == 0)
        {
            operands = [weight, X1(true, "zu"), X2(true, "zv")];
            result = target;
        }
        else if (l1 == 0)
        {
            operands = [weight, X1(true, "zu"), X2(false, "zvj")];
            result = target + "j";
            scalar /= Math.Sqrt(bo.Irrep.Dim);
        }
        else if (l2 == 0)
        {
            operands = [weight, X1(false, "zui"), X2(true, "zv")];
            result = target + "i";
            scalar /= Math.Sqrt(bo.Irrep.Dim);
        }
        else if (lo == 0)
        {
            operands = [weight, X1(false, "zui"), X2(false, "zvi")];
            result = target;
            scalar /= Math.Sqrt(b1.Irrep.Dim);
        }
        else
        {
            operands = [weight, new Operand(Source.W3j, -1, false, "ijk", 0, []), X1(false, "zui"), X2(false, "zvj")];
            result = target + "k";
            if (!w3j.TryGetValue((l1, l2, lo), out w3jSymbol)) w3j[(l1, l2, lo)] = w3jSymbol = Wigner3j.Get(l1, l2, lo, dtype);
        }

        // Sizes as e3nn's optimisation sees them: a batch of 4 rows.
        var size = new Dictionary<char, long>
        {
            ['z'] = 4, ['u'] = b1.Mul, ['v'] = b2.Mul, ['w'] = bo.Mul,
            ['i'] = b1.Irrep.Dim, ['j'] = b2.Irrep.Dim, ['k'] = bo.Irrep.Dim,
        };
        var steps = OptimalSteps(operands.Select(o => o.Indices).ToList(), result, size);

        // fuse_scalars: the smallest argument of any step (first found), or the result if smaller still.
        var terms = operands.Select(o => o.Indices).ToList();
        ScalarSite site = new(-1, 0);
        long smallest = long.MaxValue;
        for (int s = 0; s < steps.Length; s++)
        {
            string[] args = [terms[steps[s].High], terms[steps[s].Low]];
            for (int a = 0; a < 2; a++)
            {
                long n = args[a].Aggregate(1L, (acc, c) => acc * size[c]);
                if (n < smallest) { smallest = n; site = new ScalarSite(s, a); }
            }
            terms.RemoveAt(steps[s].High);
            terms.RemoveAt(steps[s].Low);
            terms.Add(steps[s].Equation.Split("->")[1]);
        }
        if (result.Aggregate(1L, (acc, c) => acc * size[c]) < smallest) site = new ScalarSite(-1, 0);
        return new PathPlan(ins.Out, operands, steps, scalar, site, bo.Dim, w3jSymbol);
    }

    /// <summary>opt_einsum's "optimal" path (depth-first over pairs in order, strict improvement, flop cost).</summary>
    private static Step[] OptimalSteps(List<string> inputs, string result, Dictionary<char, long> size)
    {
        Step[]? best = null;
        long bestCost = long.MaxValue;
        void Search(List<string> terms, List<Step> path, long cost)
        {
            if (terms.Count == 1)
            {
                bestCost = cost;
                best = path.ToArray();
                return;
            }
            for (int i = 0; i < terms.Count; i++)
                for (int j = i + 1; j < terms.Count; j++)
                {
                    var either = new HashSet<char>(terms[i]);
                    either.UnionWith(terms[j]);
                    var keep = new HashSet<char>(result);
                    for (int t = 0; t < terms.Count; t++)
                        if (t != i && t != j) keep.UnionWith(terms[t]);
                    bool inner = terms[i].Intersect(terms[j]).Any(c => !keep.Contains(c));
                    long flops = either.Aggregate(1L, (acc, c) => acc * size[c]) * (inner ? 2 : 1);
                    if (cost + flops >= bestCost) continue;
                    // opt_einsum 3.4 orders an intermediate's indices as they first appear in its two inputs (tensordot order).
                    string inputsInOrder = terms[j] + terms[i];
                    string k12 = terms.Count == 2
                        ? result
                        : new string(either.Where(keep.Contains).OrderBy(c => inputsInOrder.IndexOf(c)).ToArray());
                    var next = terms.Where((_, t) => t != i && t != j).Append(k12).ToList();
                    path.Add(new Step(j, i, $"{terms[j]},{terms[i]}->{k12}"));
                    Search(next, path, cost + flops);
                    path.RemoveAt(path.Count - 1);
                }
        }
        Search(inputs, [], 0);
        return best!;
    }

    /// <summary>
    /// The product of x1 [rows, in1] and x2 [rows, in2] with <paramref name="weights"/> ([rows, WeightNumel], or
    /// [WeightNumel] when shared): [rows, out].
    /// </summary>
    public Tensor Forward(Tensor x1, Tensor x2, Tensor weights)
    {
        long rows = x1.shape[0];
        var flatWeights = weights.reshape(-1, WeightNumel);
        var blocks1 = Blocks(x1, in1, rows);
        var blocks2 = Blocks(x2, in2, rows);
        var results = new List<Tensor>[output.Count];
        for (int o = 0; o < output.Count; o++) results[o] = [];
        foreach (var plan in plans)
        {
            var terms = plan.Operands.Select(op => op.Source switch
            {
                Source.Weight => flatWeights.narrow(1, op.WeightOffset, op.WeightShape.Aggregate(1L, (a, s) => a * s))
                    .reshape(SharedWeights ? op.WeightShape : [-1, .. op.WeightShape]),
                Source.X1 => op.Flat ? blocks1[op.Block].reshape(rows, -1) : blocks1[op.Block],
                Source.X2 => op.Flat ? blocks2[op.Block].reshape(rows, -1) : blocks2[op.Block],
                _ => plan.W3j!,
            }).ToList();
            for (int s = 0; s < plan.Steps.Length; s++)
            {
                var step = plan.Steps[s];
                var high = terms[step.High];
                var low = terms[step.Low];
                if (plan.Site.Step == s)
                {
                    if (plan.Site.Argument == 0) high = high * plan.Scalar;
                    else low = low * plan.Scalar;
                }
                terms.RemoveAt(step.High);
                terms.RemoveAt(step.Low);
                terms.Add(torch.einsum(step.Equation, high, low));
            }
            var r = terms[0];
            if (plan.Site.Step == -1) r = r * plan.Scalar;
            results[plan.Out].Add(r.reshape(rows, plan.OutDim));
        }
        var outs = new List<Tensor>();
        for (int o = 0; o < output.Count; o++)
        {
            if (output[o].Mul == 0) continue;
            if (results[o].Count == 0) { outs.Add(x1.new_zeros(rows, output[o].Dim)); continue; }
            var sum = results[o][0];
            foreach (var t in results[o].Skip(1)) sum = sum + t;
            outs.Add(sum);
        }
        return outs.Count > 1 ? torch.cat(outs, 1) : outs[0];
    }

    private static Tensor[] Blocks(Tensor x, Irreps irreps, long rows)
    {
        var blocks = new Tensor[irreps.Count];
        for (int b = 0; b < irreps.Count; b++)
        {
            var (start, end) = irreps.Slice(b);
            blocks[b] = x.narrow(1, start, end - start).reshape(rows, irreps[b].Mul, irreps[b].Irrep.Dim);
        }
        return blocks;
    }
}
