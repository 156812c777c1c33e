using EquiSharp.Graphs;
using static TorchSharp.torch;

namespace EquiSharp.Neighbourhoods;

/// <summary>
/// Radius graphs: j → i for every pair of distinct nodes of the same graph with
/// |x_j − x_i| ≤ r, built in O(N) expected time with a cell list.
/// </summary>
/// <remarks>
/// <para><b>Cutoff test.</b> The test is inclusive and exact in float64: an edge exists iff
/// Σ_k (x_jk − x_ik)² ≤ r², with the coordinates converted to float64 (exact for float32 input),
/// the sum accumulated in dimension order and r² rounded once to float64. Points exactly at the
/// cutoff distance are connected.</para>
/// <para><b>Algorithm.</b> Per graph, the points are binned into a grid of cells of side r/m
/// (m = <see cref="CellsPerCutoff"/>, slightly enlarged to absorb rounding) and every target
/// scans the (2m+1)^d block of cells around its own; rows of cells along the last dimension are
/// contiguous in memory, so a target scans (2m+1)^(d−1) runs of points. Grids with more cells
/// than about 4N fall back to a sparse (sorted-key) cell index, so a tiny cutoff costs
/// O(N log N), never memory proportional to the volume. Each target's sources are sorted, so
/// the result is deterministic and ordered by target then source. Large graphs are split over
/// threads by blocks of cells (up to <see cref="MaxThreads"/>); the result does not depend on
/// the thread count.</para>
/// <para><b>Cap.</b> With <c>maxNeighbours</c> = K, a target with more than K neighbours keeps the
/// K nearest (ties broken by smaller source index) and the rest are counted in
/// <see cref="NeighbourList.DroppedEdges"/>; the graph is then no longer symmetric. Self-loops
/// do not count towards K.</para>
/// <para>Positions may be on any device; the search runs on the CPU and the result is moved to the
/// device of the positions.</para>
/// </remarks>
public static class RadiusGraph
{
    /// <summary>Graphs with fewer nodes than this are searched on one thread.</summary>
    private const int ParallelThreshold = 20_000;

    /// <summary>
    /// Cells per cutoff length m (1 or 2, default 2): cells of side r/m. 2 scans a smaller volume
    /// around each target (≈ 15.6 r³ instead of 27 r³ in 3D) and is faster for dense clouds.
    /// </summary>
    public static int CellsPerCutoff { get; set; } = 2;

    /// <summary>Most threads one search uses (default: the processor count). 1 disables threading.</summary>
    public static int MaxThreads { get; set; } = Environment.ProcessorCount;

    /// <summary>Radius graph of the points <paramref name="positions"/>, per graph of <paramref name="batch"/>.</summary>
    /// <param name="positions">Positions [N, d], float32 or float64 (any floating dtype), finite; any d ≥ 1 (cost grows as (2m+1)^d, d ≤ 3 is the intended use).</param>
    /// <param name="cutoff">Cutoff radius r &gt; 0, finite; the test is |x_j − x_i| ≤ r (inclusive).</param>
    /// <param name="batch">Graph of every node [N] int64, sorted non-decreasing; null for a single graph.</param>
    /// <param name="selfLoops">Also add i → i for every node (not counted against <paramref name="maxNeighbours"/>).</param>
    /// <param name="maxNeighbours">Optional cap K ≥ 0 on the in-degree: the K nearest sources are kept and the rest reported in <see cref="NeighbourList.DroppedEdges"/>.</param>
    /// <param name="computeGeometry">Also return <see cref="NeighbourList.Vectors"/> (x_j − x_i) and <see cref="NeighbourList.Distances"/>, computed with tensor operations so they are differentiable with respect to <paramref name="positions"/>.</param>
    /// <returns>The edges sorted by target then source, on the device of <paramref name="positions"/>.</returns>
    /// <exception cref="GraphValidationException">Bad shapes, dtypes, unsorted batch or non-finite positions (naming the point).</exception>
    /// <exception cref="ArgumentOutOfRangeException">Cutoff not positive and finite, or negative cap.</exception>
    public static NeighbourList Build(Tensor positions, double cutoff, Tensor? batch = null, bool selfLoops = false,
        int? maxNeighbours = null, bool computeGeometry = false)
    {
        CheckArguments(cutoff, maxNeighbours);
        Prof.Start();
        var input = NeighbourInput.FromBatch("RadiusGraph", positions, batch);
        return Run(input, positions, cutoff, selfLoops, maxNeighbours, computeGeometry);
    }

    /// <summary>Radius graph of every graph of a <see cref="GraphBatch"/> (its positions and node counts).</summary>
    /// <inheritdoc cref="Build(Tensor, double, Tensor?, bool, int?, bool)"/>
    public static NeighbourList Build(GraphBatch batch, double cutoff, bool selfLoops = false, int? maxNeighbours = null,
        bool computeGeometry = false)
    {
        CheckArguments(cutoff, maxNeighbours);
        var input = NeighbourInput.FromGraphBatch("RadiusGraph", batch);
        return Run(input, batch.Positions, cutoff, selfLoops, maxNeighbours, computeGeometry);
    }

    private static void CheckArguments(double cutoff, int? maxNeighbours)
    {
        if (!(cutoff > 0) || !double.IsFinite(cutoff))
            throw new ArgumentOutOfRangeException(nameof(cutoff), cutoff, "The cutoff must be positive and finite.");
        if (maxNeighbours is < 0)
            throw new ArgumentOutOfRangeException(nameof(maxNeighbours), maxNeighbours, "maxNeighbours must be non-negative (or null for no cap).");
        if (CellsPerCutoff is < 1 or > 4)
            throw new InvalidOperationException($"RadiusGraph.CellsPerCutoff must be in 1..4, is {CellsPerCutoff}.");
    }

    private static NeighbourList Run(NeighbourInput input, Tensor positions, double cutoff, bool selfLoops, int? maxNeighbours, bool computeGeometry)
    {
        Prof.Mark("input");
        var acc = new EdgeAccumulator(input.N);
        var search = new Search(input, cutoff, selfLoops, maxNeighbours ?? -1, CellsPerCutoff, Math.Max(1, MaxThreads));
        for (int g = 0; g + 1 < input.Ptr.Length; g++)
            search.Graph((int)input.Ptr[g], (int)(input.Ptr[g + 1] - input.Ptr[g]), acc);
        var edgeIndex = acc.ToTensor();
        Prof.Mark("tensor");
        var res = EdgeTensor.Finish(edgeIndex, positions, computeGeometry, search.Dropped, search.Truncated);
        Prof.Mark("finish"); Prof.Dump();
        return res;
    }

    /// <summary>Per-thread candidate buffer.</summary>
    private sealed class Chunk
    {
        public int[] J = new int[4096];
        public double[] D2 = [];
        public int Count;
        public long Dropped, Truncated;
        public Candidate[] Scratch = [];
        public long[] Cell = [];
        public int[] RangeStart = [], RangeEnd = [];

        public void Reserve(int extra, bool withDistances)
        {
            int need = Count + extra;
            if (need > J.Length) Array.Resize(ref J, Math.Max(need, J.Length * 2));
            if (withDistances && need > D2.Length) Array.Resize(ref D2, Math.Max(need, J.Length));
        }
    }

    private readonly record struct Candidate(double D2, int J) : IComparable<Candidate>
    {
        public int CompareTo(Candidate other)
        {
            int c = D2.CompareTo(other.D2);
            return c != 0 ? c : J.CompareTo(other.J);
        }
    }

    private sealed class Search
    {
        private readonly NeighbourInput _in;
        private readonly double _r2;
        private readonly double _cell;
        private readonly bool _self;
        private readonly int _cap;
        private readonly int _reach;
        private readonly int _threads;
        private readonly CellGrid _grid = new();
        private readonly List<Chunk> _chunks = [];
        private int[] _off = [], _cnt = [], _chunkOf = [];
        private long[] _leading = [];   // leading-dimension cell offsets, row-major [L, d - 1]
        private int _numLeading;
        public long Dropped, Truncated;

        public Search(NeighbourInput input, double r, bool self, int cap, int cellsPerCutoff, int threads)
        {
            _in = input;
            _r2 = r * r;
            _self = self;
            _cap = cap;
            _reach = cellsPerCutoff;
            _threads = threads;
            // Cells a hair larger than r/m: rounding in the cell assignment (relative 1e-16 times at
            // most 2^20 cells) can then never put two points within r more than m cells apart.
            _cell = r / cellsPerCutoff * (1 + 1e-8);
            BuildLeadingOffsets(input.D);
        }

        private void BuildLeadingOffsets(int d)
        {
            int lead = d - 1, side = 2 * _reach + 1;
            int total = 1;
            for (int k = 0; k < lead; k++) total *= side;
            var list = new List<long>();
            Span<long> o = stackalloc long[Math.Max(lead, 1)];
            for (int t = 0; t < total; t++)
            {
                int rest = t;
                double gap2 = 0;   // squared lower bound of the gap between the cells, in cell units
                for (int k = lead - 1; k >= 0; k--)
                {
                    o[k] = rest % side - _reach;
                    rest /= side;
                    double gap = Math.Max(Math.Abs(o[k]) - 1, 0);
                    gap2 += gap * gap;
                }
                // Skip cell rows that cannot hold a point within r (gap ≥ r = m cells).
                if (gap2 > (double)_reach * _reach) continue;
                for (int k = 0; k < lead; k++) list.Add(o[k]);
            }
            _leading = list.ToArray();
            _numLeading = lead == 0 ? 1 : _leading.Length / lead;
        }

        public void Graph(int p0, int n, EdgeAccumulator acc)
        {
            if (n == 0) return;
            int d = _in.D;
            var coords = _in.Coords.AsSpan(p0 * d, n * d);
            _grid.Build(coords, n, d, _cell, 4L * n + 64);
            Prof.Mark("grid");
            if (_off.Length < n) { _off = new int[n]; _cnt = new int[n]; _chunkOf = new int[n]; }

            int threads = n >= ParallelThreshold ? _threads : 1;
            int numChunks = threads == 1 ? 1 : threads * 8;
            while (_chunks.Count < numChunks) _chunks.Add(new Chunk());
            // Split the occupied cells into blocks of about n / numChunks points.
            var bounds = new int[numChunks + 1];
            for (int c = 1; c < numChunks; c++)
            {
                int targetPoint = (int)((long)n * c / numChunks);
                int lo = bounds[c - 1], hi = _grid.M;
                while (lo < hi) { int mid = (lo + hi) >>> 1; if (_grid.OccStart[mid] < targetPoint) lo = mid + 1; else hi = mid; }
                bounds[c] = lo;
            }
            bounds[numChunks] = _grid.M;
            for (int c = 0; c < numChunks; c++) { _chunks[c].Count = 0; _chunks[c].Dropped = 0; _chunks[c].Truncated = 0; }

            if (numChunks == 1) Scan(0, bounds[0], bounds[1]);
            else
                Parallel.For(0, numChunks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                    c => Scan(c, bounds[c], bounds[c + 1]));

            for (int c = 0; c < numChunks; c++) { Dropped += _chunks[c].Dropped; Truncated += _chunks[c].Truncated; }
            Prof.Mark("scan");
            Compact(p0, n, acc);
            Prof.Mark("compact");
        }

        /// <summary>Finds, caps and sorts the sources of every target in occupied cells [c0, c1).</summary>
        private void Scan(int chunkIndex, int c0, int c1)
        {
            var chunk = _chunks[chunkIndex];
            var grid = _grid;
            int d = grid.D, lead = d - 1, reach = _reach;
            bool withD2 = _cap >= 0;
            if (chunk.Cell.Length < d) chunk.Cell = new long[d];
            var cell = chunk.Cell.AsSpan(0, d);
            int maxRanges = _numLeading;
            if (chunk.RangeStart.Length < maxRanges) { chunk.RangeStart = new int[maxRanges]; chunk.RangeEnd = new int[maxRanges]; }
            int[] rs = chunk.RangeStart, re = chunk.RangeEnd;
            double[] sorted = grid.Sorted;
            int[] order = grid.Order;
            double r2 = _r2;
            long lastDims = grid.Dims[d - 1];

            for (int c = c0; c < c1; c++)
            {
                long key = grid.OccKey[c];
                grid.Decode(key, cell);
                // Runs of cells along the last dimension around this cell.
                long lastLo = Math.Max(0, cell[d - 1] - reach), lastHi = Math.Min(lastDims - 1, cell[d - 1] + reach);
                int numRanges = 0, total = 0;
                for (int t = 0; t < _numLeading; t++)
                {
                    long rowKey = 0;
                    bool inside = true;
                    for (int k = 0; k < lead; k++)
                    {
                        long ck = cell[k] + _leading[t * lead + k];
                        if (ck < 0 || ck >= grid.Dims[k]) { inside = false; break; }
                        rowKey += ck * grid.Stride[k];
                    }
                    if (!inside) continue;
                    grid.Range(rowKey + lastLo, rowKey + lastHi, out int s, out int e);
                    if (e <= s) continue;
                    rs[numRanges] = s; re[numRanges] = e; numRanges++;
                    total += e - s;
                }

                int pEnd = grid.OccStart[c + 1];
                for (int p = grid.OccStart[c]; p < pEnd; p++)
                {
                    chunk.Reserve(total, withD2);
                    int[] js = chunk.J;
                    double[] d2s = chunk.D2;
                    int start = chunk.Count, count = start;
                    if (d == 3)
                    {
                        double x = sorted[3 * p], y = sorted[3 * p + 1], z = sorted[3 * p + 2];
                        for (int q = 0; q < numRanges; q++)
                        {
                            int e = re[q];
                            for (int o = rs[q]; o < e; o++)
                            {
                                double dx = sorted[3 * o] - x, dy = sorted[3 * o + 1] - y, dz = sorted[3 * o + 2] - z;
                                double dd = dx * dx + dy * dy + dz * dz;
                                if (dd <= r2 && o != p)
                                {
                                    js[count] = order[o];
                                    if (withD2) d2s[count] = dd;
                                    count++;
                                }
                            }
                        }
                    }
                    else
                    {
                        int pb = p * d;
                        for (int q = 0; q < numRanges; q++)
                        {
                            int e = re[q];
                            for (int o = rs[q]; o < e; o++)
                            {
                                int ob = o * d;
                                double dd = 0;
                                for (int k = 0; k < d; k++)
                                {
                                    double dk = sorted[ob + k] - sorted[pb + k];
                                    dd += dk * dk;
                                }
                                if (dd <= r2 && o != p)
                                {
                                    js[count] = order[o];
                                    if (withD2) d2s[count] = dd;
                                    count++;
                                }
                            }
                        }
                    }

                    int found = count - start;
                    if (withD2 && found > _cap)
                    {
                        KeepNearest(chunk, start, found, _cap);
                        chunk.Dropped += found - _cap;
                        chunk.Truncated++;
                        found = _cap;
                    }
                    js.AsSpan(start, found).Sort();
                    chunk.Count = start + found;
                    _off[p] = start;
                    _cnt[p] = found;
                    _chunkOf[p] = chunkIndex;
                }
            }
        }

        /// <summary>Moves the <paramref name="keep"/> nearest of the candidates (by distance, then index) to the front.</summary>
        private static void KeepNearest(Chunk chunk, int start, int found, int keep)
        {
            if (chunk.Scratch.Length < found) chunk.Scratch = new Candidate[Math.Max(found, chunk.Scratch.Length * 2)];
            var cand = chunk.Scratch.AsSpan(0, found);
            for (int t = 0; t < found; t++) cand[t] = new Candidate(chunk.D2[start + t], chunk.J[start + t]);
            cand.Sort();
            for (int t = 0; t < keep; t++) chunk.J[start + t] = cand[t].J;
        }

        /// <summary>Appends the edges of the graph in target order (local index), adding self-loops.</summary>
        private void Compact(int p0, int n, EdgeAccumulator acc)
        {
            long total = _self ? n : 0;
            for (int p = 0; p < n; p++) total += _cnt[p];
            acc.Reserve(total);
            var dst = acc.Sources;
            long w = acc.Count;
            int[] rank = _grid.Rank;
            for (int i = 0; i < n; i++)
            {
                int p = rank[i];
                int cnt = _cnt[p];
                var js = _chunks[_chunkOf[p]].J.AsSpan(_off[p], cnt);
                int t = 0;
                if (_self)
                {
                    for (; t < cnt && js[t] < i; t++) dst[w++] = p0 + js[t];
                    dst[w++] = p0 + i;
                }
                for (; t < cnt; t++) dst[w++] = p0 + js[t];
                acc.Degree[p0 + i] = cnt + (_self ? 1 : 0);
            }
            acc.Count = w;
        }
    }
}

internal static class Prof
{
    static readonly bool On = Environment.GetEnvironmentVariable("NBPROF") == "1";
    static System.Diagnostics.Stopwatch _sw = new();
    static readonly List<string> _log = [];
    public static void Start() { if (On) { _log.Clear(); _sw.Restart(); } }
    public static void Mark(string s) { if (On) { _log.Add($"{s} {_sw.Elapsed.TotalMilliseconds:F1}"); _sw.Restart(); } }
    public static void Dump() { if (On) Console.Error.WriteLine(string.Join(" | ", _log)); }
}
