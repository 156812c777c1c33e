using EquiSharp.Graphs;
using static TorchSharp.torch;

namespace EquiSharp.Neighbourhoods;

/// <summary>
/// k-nearest-neighbour graphs: every node i receives edges j → i from its k nearest other nodes
/// of the same graph.
/// </summary>
/// <remarks>
/// <para><b>Ties.</b> Neighbours are ranked by the float64 squared distance Σ_k (x_jk − x_ik)²
/// (dimension order), then by smaller source index, so the result is unique and deterministic.</para>
/// <para><b>Small graphs.</b> A graph with n ≤ k nodes has fewer than k candidates: each node then
/// receives edges from all n − 1 other nodes (the graph is fully connected), never an error.</para>
/// <para><b>Algorithm.</b> Per graph, the points are binned into a grid of about max(2, k/4) points
/// per cell; each target visits shells of cells at growing Chebyshev distance s = 0, 1, 2, … while
/// keeping its k best candidates in a bounded max-heap, and stops once the k-th best distance is
/// below the distance from the target to the outside of the visited block of cells (no unvisited
/// point can then be closer, or tie with a smaller index). Expected cost O(N·k log k) for well-spread clouds.
/// The sources of each target are emitted sorted, so the edge index is ordered by target then
/// source. Large graphs are split over threads by blocks of cells; the result does not depend on the
/// thread count. The search runs on the CPU; the result is moved to the device of the positions.</para>
/// </remarks>
public static class KnnGraph
{
    private const int ParallelThreshold = 20_000;

    /// <summary>
    /// Most threads one search uses (default 1, like <see cref="EquiSharp.Runtime.TorchRuntime.DefaultThreads"/>).
    /// Graphs of at least 20,000 nodes are split over up to this many threads; the result does not
    /// depend on it. Raise it (e.g. to <see cref="Environment.ProcessorCount"/>) for large clouds on
    /// an otherwise idle machine: on the shared 2-core project machine two threads were not
    /// reliably faster.
    /// </summary>
    public static int MaxThreads { get; set; } = 1;

    /// <summary>k-nearest-neighbour graph of <paramref name="positions"/>, per graph of <paramref name="batch"/>.</summary>
    /// <param name="positions">Positions [N, d], floating point, finite; any d ≥ 1.</param>
    /// <param name="k">Neighbours per node, k ≥ 0 (fewer when the graph has ≤ k nodes: then all others).</param>
    /// <param name="batch">Graph of every node [N] int64, sorted non-decreasing; null for a single graph.</param>
    /// <param name="selfLoops">Also add i → i for every node (in addition to the k neighbours).</param>
    /// <param name="computeGeometry">Also return <see cref="NeighbourList.Vectors"/> (x_j − x_i) and <see cref="NeighbourList.Distances"/>, differentiable with respect to <paramref name="positions"/>.</param>
    /// <returns>The edges sorted by target then source; <see cref="NeighbourList.DroppedEdges"/> is always 0.</returns>
    /// <exception cref="GraphValidationException">Bad shapes, dtypes, unsorted batch or non-finite positions.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Negative <paramref name="k"/>.</exception>
    public static NeighbourList Build(Tensor positions, int k, Tensor? batch = null, bool selfLoops = false, bool computeGeometry = false)
    {
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be non-negative.");
        var input = NeighbourInput.FromBatch("KnnGraph", positions, batch);
        return Run(input, positions, k, selfLoops, computeGeometry);
    }

    /// <summary>k-nearest-neighbour graph of every graph of a <see cref="GraphBatch"/>.</summary>
    /// <inheritdoc cref="Build(Tensor, int, Tensor?, bool, bool)"/>
    public static NeighbourList Build(GraphBatch batch, int k, bool selfLoops = false, bool computeGeometry = false)
    {
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be non-negative.");
        var input = NeighbourInput.FromGraphBatch("KnnGraph", batch);
        return Run(input, batch.Positions, k, selfLoops, computeGeometry);
    }

    private static NeighbourList Run(NeighbourInput input, Tensor positions, int k, bool selfLoops, bool computeGeometry)
    {
        var acc = new EdgeAccumulator(input.N);
        var search = new Search(input, k, selfLoops, Math.Max(1, MaxThreads));
        for (int g = 0; g + 1 < input.Ptr.Length; g++)
            search.Graph((int)input.Ptr[g], (int)(input.Ptr[g + 1] - input.Ptr[g]), acc);
        return EdgeTensor.Finish(acc.ToTensor(), positions, computeGeometry, 0, 0);
    }

    /// <summary>Per-thread scratch: the candidate heap and cell coordinates.</summary>
    private sealed class Worker
    {
        public double[] HeapD2 = [];
        public int[] HeapJ = [];
        public long[] Cell = [];
        public double[] U = [];
    }

    private sealed class Search(NeighbourInput input, int k, bool self, int threads)
    {
        private readonly CellGrid _grid = new();
        private int[] _result = [];     // [n * kk] sources of local target i at i * kk, sorted

        public void Graph(int p0, int n, EdgeAccumulator acc)
        {
            if (n == 0) return;
            int kk = Math.Min(k, n - 1);
            if (kk == 0 || kk == n - 1)
            {
                AllOthers(p0, n, acc);
                return;
            }
            int d = input.D;
            var coords = input.Coords.AsSpan(p0 * d, n * d);
            _grid.Build(coords, n, d, CellSide(coords, n, d), 4L * n + 64);
            if (_result.Length < (long)n * kk)
                _result = new int[checked(n * kk)];

            int t = n >= ParallelThreshold ? threads : 1;
            int numChunks = t == 1 ? 1 : t * 8;
            var workers = new Worker[numChunks];
            for (int c = 0; c < numChunks; c++) workers[c] = new Worker();
            int m = _grid.M;
            if (numChunks == 1) Scan(workers[0], 0, m, kk);
            else
                Parallel.For(0, numChunks, new ParallelOptions { MaxDegreeOfParallelism = t },
                    c => Scan(workers[c], (int)((long)m * c / numChunks), (int)((long)m * (c + 1) / numChunks), kk));

            long total = (long)n * (kk + (self ? 1 : 0));
            acc.Reserve(total);
            var dst = acc.Sources;
            long w = acc.Count;
            for (int i = 0; i < n; i++)
            {
                var js = _result.AsSpan(i * kk, kk);
                int q = 0;
                if (self)
                {
                    for (; q < kk && js[q] < i; q++) dst[w++] = p0 + js[q];
                    dst[w++] = p0 + i;
                }
                for (; q < kk; q++) dst[w++] = p0 + js[q];
                acc.Degree[p0 + i] = kk + (self ? 1 : 0);
            }
            acc.Count = w;
        }

        /// <summary>
        /// Graphs with at most k + 1 nodes: every other node (and i itself with self-loops); k = 0:
        /// only the self-loops, if requested.
        /// </summary>
        private void AllOthers(int p0, int n, EdgeAccumulator acc)
        {
            if (k == 0)
            {
                if (!self) return;
                acc.Reserve(n);
                for (int i = 0; i < n; i++) { acc.Sources[acc.Count++] = p0 + i; acc.Degree[p0 + i] = 1; }
                return;
            }
            int deg = n - 1 + (self ? 1 : 0);
            acc.Reserve((long)n * deg);
            long w = acc.Count;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                    if (j != i || self) acc.Sources[w++] = p0 + j;
                acc.Degree[p0 + i] = deg;
            }
            acc.Count = w;
        }

        /// <summary>
        /// Cell side giving about max(2, k/2) points per cell over the bounding box, enlarged until
        /// the grid has at most ~2N/occupancy cells (flat or elongated clouds).
        /// </summary>
        private double CellSide(ReadOnlySpan<double> coords, int n, int d)
        {
            Span<double> ext = stackalloc double[d];
            for (int q = 0; q < d; q++)
            {
                double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
                for (int i = 0; i < n; i++) { double v = coords[i * d + q]; if (v < lo) lo = v; if (v > hi) hi = v; }
                ext[q] = hi - lo;
            }
            double maxExt = 0;
            foreach (var e in ext) maxExt = Math.Max(maxExt, e);
            if (maxExt == 0) return 1.0;
            // About k/4 points per cell: in 3D the k-th neighbour then lies within ~1 cell side, so
            // most targets stop after the 27 cells of the first shell.
            double occupancy = Math.Max(2.0, k / 4.0);
            double logVolume = 0;
            foreach (var e in ext) logVolume += Math.Log(Math.Max(e, maxExt * 1e-9));
            double h = Math.Exp((logVolume + Math.Log(occupancy / n)) / d);
            double maxCells = 2.0 * n / occupancy + 1;
            while (true)
            {
                double cells = 1;
                foreach (var e in ext) cells *= Math.Floor(e / h) + 1;
                if (cells <= maxCells) return h;
                h *= 1.25;
            }
        }

        private void Scan(Worker wk, int c0, int c1, int kk)
        {
            var grid = _grid;
            int d = grid.D, lead = d - 1;
            if (wk.HeapD2.Length < kk) { wk.HeapD2 = new double[kk]; wk.HeapJ = new int[kk]; }
            if (wk.Cell.Length < 4 * d) wk.Cell = new long[4 * d];
            var cell = wk.Cell.AsSpan(0, d);
            var off = wk.Cell.AsSpan(d, d);
            var offLo = wk.Cell.AsSpan(2 * d, d);
            var offHi = wk.Cell.AsSpan(3 * d, d);
            if (wk.U.Length < d) wk.U = new double[d];
            var u = wk.U;
            double invH2 = grid.InvH * grid.InvH;
            double[] hd = wk.HeapD2;
            int[] hj = wk.HeapJ;
            double[] sorted = grid.Sorted;
            int[] order = grid.Order;
            long lastDims = grid.Dims[d - 1];
            // Safety factor on the shell bound for rounding in the cell assignment.
            double h = grid.H * (1 - 1e-8);

            for (int c = c0; c < c1; c++)
            {
                grid.Decode(grid.OccKey[c], cell);
                long maxRing = 0;
                for (int q = 0; q < d; q++) maxRing = Math.Max(maxRing, Math.Max(cell[q], grid.Dims[q] - 1 - cell[q]));
                int pEnd = grid.OccStart[c + 1];
                for (int p = grid.OccStart[c]; p < pEnd; p++)
                {
                    int size = 0;
                    int pb = p * d;
                    for (int q = 0; q < d; q++) u[q] = (sorted[pb + q] - grid.Min[q]) * grid.InvH;
                    for (long s = 0; ; s++)
                    {
                        // Enumerate the shell at Chebyshev distance s as runs along the last dimension:
                        // an odometer over the leading offsets, clipped to the grid.
                        for (int q = 0; q < lead; q++)
                        {
                            offLo[q] = Math.Max(-s, -cell[q]);
                            offHi[q] = Math.Min(s, grid.Dims[q] - 1 - cell[q]);
                            off[q] = offLo[q];
                        }
                        long cl = cell[d - 1];
                        while (true)
                        {
                            long rowKey = 0;
                            bool onShell = s == 0;
                            double gap2 = 0;   // squared gap (cell units) to the row in the leading dimensions
                            for (int q = 0; q < lead; q++)
                            {
                                rowKey += (cell[q] + off[q]) * grid.Stride[q];
                                if (off[q] == s || off[q] == -s) onShell = true;
                                double g = off[q] > 0 ? cell[q] + off[q] - u[q] : off[q] < 0 ? u[q] - (cell[q] + off[q] + 1) : 0;
                                if (g > 0) gap2 += g * g;
                            }
                            long lo = Math.Max(0, cl - s), hi = Math.Min(lastDims - 1, cl + s);
                            if (size == kk)
                            {
                                // Heap full: skip rows, and cells of a row, that lie farther than
                                // the current k-th distance (conservatively, for rounding).
                                double w = hd[0] * invH2 * (1 + 1e-7) + 1e-9;
                                if (gap2 > w) goto next;
                                double half = Math.Sqrt(w - gap2);
                                lo = Math.Max(lo, (long)Math.Floor(u[d - 1] - half));
                                hi = Math.Min(hi, (long)Math.Floor(u[d - 1] + half));
                            }
                            if (onShell)
                            {
                                if (lo <= hi) Visit(rowKey + lo, rowKey + hi);
                            }
                            else
                            {
                                if (cl - s >= lo && cl - s <= hi) Visit(rowKey + cl - s, rowKey + cl - s);
                                if (cl + s <= hi && cl + s >= lo) Visit(rowKey + cl + s, rowKey + cl + s);
                            }
                        next:
                            int qq = lead - 1;
                            while (qq >= 0)
                            {
                                if (++off[qq] <= offHi[qq]) break;
                                off[qq] = offLo[qq];
                                qq--;
                            }
                            if (qq < 0) break;
                        }
                        if (s >= maxRing) break;
                        if (size == kk)
                        {
                            // Distance (cell units) from the target to the outside of the visited
                            // block of cells, ignoring sides where the block reaches the grid edge.
                            double gap = double.PositiveInfinity;
                            for (int q = 0; q < d; q++)
                            {
                                double uq = u[q];
                                if (cell[q] - s > 0) gap = Math.Min(gap, uq - (cell[q] - s));
                                if (cell[q] + s < grid.Dims[q] - 1) gap = Math.Min(gap, cell[q] + s + 1 - uq);
                            }
                            double bound = Math.Max(0, gap - 1e-9) * h;
                            if (hd[0] < bound * bound) break;
                        }
                    }

                    // Heap → sources sorted by index, stored at the target's local index.
                    var dst = _result.AsSpan(order[p] * kk, kk);
                    hj.AsSpan(0, kk).CopyTo(dst);
                    dst.Sort();

                    void Visit(long keyLo, long keyHi)
                    {
                        grid.Range(keyLo, keyHi, out int st, out int en);
                        for (int o = st; o < en; o++)
                        {
                            if (o == p) continue;
                            int ob = o * d;
                            double dd;
                            if (d == 3)
                            {
                                double dx = sorted[ob] - sorted[pb], dy = sorted[ob + 1] - sorted[pb + 1], dz = sorted[ob + 2] - sorted[pb + 2];
                                dd = dx * dx + dy * dy + dz * dz;
                                if (size == kk && dd > hd[0]) continue;
                            }
                            else
                            {
                                dd = 0;
                                for (int q = 0; q < d; q++)
                                {
                                    double dq = sorted[ob + q] - sorted[pb + q];
                                    dd += dq * dq;
                                }
                            }
                            int j = order[o];
                            if (size < kk)
                            {
                                // Sift up into the max-heap ordered by (d2, j).
                                int i = size++;
                                while (i > 0)
                                {
                                    int parent = (i - 1) >> 1;
                                    if (!Greater(dd, j, hd[parent], hj[parent])) break;
                                    hd[i] = hd[parent]; hj[i] = hj[parent];
                                    i = parent;
                                }
                                hd[i] = dd; hj[i] = j;
                            }
                            else if (Greater(hd[0], hj[0], dd, j))
                            {
                                // Replace the worst and sift down.
                                int i = 0;
                                while (true)
                                {
                                    int l = 2 * i + 1;
                                    if (l >= kk) break;
                                    int r = l + 1;
                                    int big = r < kk && Greater(hd[r], hj[r], hd[l], hj[l]) ? r : l;
                                    if (!Greater(hd[big], hj[big], dd, j)) break;
                                    hd[i] = hd[big]; hj[i] = hj[big];
                                    i = big;
                                }
                                hd[i] = dd; hj[i] = j;
                            }
                        }
                    }
                }
            }
        }

        private static bool Greater(double d2a, int ja, double d2b, int jb) => d2a > d2b || (d2a == d2b && ja > jb);
    }
}
