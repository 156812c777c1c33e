using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using EquiSharp.Graphs;
using TorchSharp;
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
/// contiguous in memory, so a target scans (2m+1)^(d−1) runs of points (9 in 3D with the default
/// m = 1), four points per instruction in 3D (AVX2, same arithmetic as the scalar test). Grids
/// with more cells than about 4N fall back to a sparse (sorted-key) cell index, so a tiny cutoff
/// costs O(N log N), never memory proportional to the volume. Each target's sources are sorted
/// (a sorting network for short lists), so the result is deterministic and ordered by target then
/// source, and written straight into the edge tensor. Large graphs are split over threads by
/// blocks of cells (up to <see cref="MaxThreads"/>); the result does not depend on the thread
/// count. Cost: O(N + E) expected time for clouds of bounded density, O(N + E) memory.</para>
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
    /// Cells per cutoff length m (1..4, default 1): cells of side r/m, each target scanning the
    /// (2m+1)^d block around its cell. Larger m scans a smaller volume (15.6 r³ instead of 27 r³ in
    /// 3D for m = 2) at the price of more, shorter runs; the result does not depend on it.
    /// </summary>
    public static int CellsPerCutoff { get; set; } = 1;

    /// <summary>
    /// Clip the scanned cell rows per target to the part within r of that target (fewer distance
    /// tests, more bookkeeping) instead of scanning whole (2m+1)-cell rows shared by all targets of
    /// a cell. Off by default: on the 100k benchmark, whole rows with m = 1 were fastest.
    /// </summary>
    public static bool ClipRowsPerTarget { get; set; }

    /// <summary>
    /// Most threads one search uses (default 1, like <see cref="EquiSharp.Runtime.TorchRuntime.DefaultThreads"/>).
    /// Graphs of at least 20,000 nodes are split over up to this many threads; the result does not
    /// depend on it. Raise it (e.g. to <see cref="Environment.ProcessorCount"/>) for large clouds on
    /// an otherwise idle machine: on the shared 2-core project machine two threads were not
    /// reliably faster.
    /// </summary>
    public static int MaxThreads { get; set; } = 1;

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
        var search = new Search(input, cutoff, selfLoops, maxNeighbours ?? -1, CellsPerCutoff, Math.Max(1, MaxThreads));
        Tensor edgeIndex;
        try
        {
            for (int g = 0; g + 1 < input.Ptr.Length; g++)
                search.Scan((int)input.Ptr[g], (int)(input.Ptr[g + 1] - input.Ptr[g]));
            edgeIndex = search.Emit();
        }
        finally { search.Release(); }
        return EdgeTensor.Finish(edgeIndex, positions, computeGeometry, search.Dropped, search.Truncated);
    }

    /// <summary>Per-thread candidate buffer; lists of successive graphs are appended, never reset.</summary>
    private sealed class Chunk
    {
        // Rented from the shared pool (tens of MB for large clouds; reused between calls).
        public int[] J = ArrayPool<int>.Shared.Rent(4096);
        public double[] D2 = [];
        public int Count;
        public long Dropped, Truncated;
        public Candidate[] Scratch = [];
        public long[] Cell = [];
        public double[] U = [];
        public int[] RangeStart = [], RangeEnd = [];

        public void Reserve(long extra, bool withDistances)
        {
            long need = Count + extra;
            if (need > J.Length)
            {
                if (need > Array.MaxLength)
                    throw new InvalidOperationException($"A radius graph block would hold {need} candidate edges, more than the {Array.MaxLength} supported.");
                var bigger = ArrayPool<int>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(need, 2L * J.Length)));
                Array.Copy(J, bigger, Count);
                ArrayPool<int>.Shared.Return(J);
                J = bigger;
            }
            if (withDistances && J.Length > D2.Length)
            {
                var bigger = ArrayPool<double>.Shared.Rent(J.Length);
                Array.Copy(D2, bigger, Count);
                if (D2.Length > 0) ArrayPool<double>.Shared.Return(D2);
                D2 = bigger;
            }
        }

        public void Release()
        {
            ArrayPool<int>.Shared.Return(J);
            if (D2.Length > 0) ArrayPool<double>.Shared.Return(D2);
            J = [];
            D2 = [];
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

    /// <summary>
    /// Two phases: <see cref="Scan"/> finds, caps and sorts every target's sources per graph into
    /// per-thread buffers (lists of successive graphs appended); <see cref="Emit"/> then sizes the
    /// edge tensor and copies the lists into it in target order, inserting the self-loops.
    /// </summary>
    private sealed class Search
    {
        private readonly NeighbourInput _in;
        private readonly double _r, _r2;
        private readonly double _cell;
        private readonly bool _self;
        private readonly int _cap;
        private readonly int _reach;
        private readonly bool _perCell;
        private readonly int _threads;
        private readonly CellGrid _grid = new();
        private readonly List<Chunk> _chunks = [];
        // Per global node: the chunk, offset and length of its source list.
        private readonly int[] _off, _cnt, _chunkOf;
        private long[] _leading = [];   // leading-dimension cell offsets, row-major [L, d - 1]
        private int _numLeading;
        public long Dropped, Truncated;

        public Search(NeighbourInput input, double r, bool self, int cap, int cellsPerCutoff, int threads)
        {
            _in = input;
            _r = r;
            _r2 = r * r;
            _self = self;
            _cap = cap;
            _reach = cellsPerCutoff;
            _perCell = !ClipRowsPerTarget;
            _threads = threads;
            // Cells a hair larger than r/m: rounding in the cell assignment (relative 1e-16 times at
            // most 2^20 cells) can then never put two points within r more than m cells apart.
            _cell = r / cellsPerCutoff * (1 + 1e-8);
            _off = new int[input.N];
            _cnt = new int[input.N];
            _chunkOf = new int[input.N];
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

        /// <summary>Finds the source lists of the targets of graph [p0, p0 + n).</summary>
        public void Scan(int p0, int n)
        {
            if (n == 0) return;
            int d = _in.D;
            var coords = _in.Coords.AsSpan(p0 * d, n * d);
            _grid.Build(coords, n, d, _cell, 4L * n + 64);

            int threads = n >= ParallelThreshold ? _threads : 1;
            int numChunks = threads == 1 ? 1 : threads * 8;
            while (_chunks.Count < numChunks) _chunks.Add(new Chunk());
            if (numChunks == 1)
            {
                ScanCells(0, p0, 0, _grid.M);
                return;
            }
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
            Parallel.For(0, numChunks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                c => ScanCells(c, p0, bounds[c], bounds[c + 1]));
        }

        /// <summary>Source lists of every target in occupied cells [c0, c1) into chunk <paramref name="chunkIndex"/>.</summary>
        private unsafe void ScanCells(int chunkIndex, int p0, int c0, int c1)
        {
            var chunk = _chunks[chunkIndex];
            var grid = _grid;
            int d = grid.D, lead = d - 1;
            bool withD2 = _cap >= 0;
            if (chunk.Cell.Length < d) { chunk.Cell = new long[d]; chunk.U = new double[d]; }
            var cell = chunk.Cell;
            var u = chunk.U;
            if (chunk.RangeStart.Length < _numLeading) { chunk.RangeStart = new int[_numLeading]; chunk.RangeEnd = new int[_numLeading]; }
            int[] rs = chunk.RangeStart, re = chunk.RangeEnd;
            double[] sorted = grid.Sorted;
            int[] order = grid.Order;
            double r2 = _r2;
            long lastDims = grid.Dims[d - 1];
            double invH = grid.InvH;
            // Cutoff in cell units, with slack for the rounding of the cell coordinates.
            double rc = _r * invH * (1 + 1e-7) + 1e-9, rc2 = rc * rc;
            bool perCell = _perCell;

            fixed (double* S = sorted)
            fixed (int* ord = order)
            {
                for (int c = c0; c < c1; c++)
                {
                    grid.Decode(grid.OccKey[c], cell);
                    int pEnd = grid.OccStart[c + 1];
                    int numRanges = 0;
                    long total = 0;
                    for (int p = grid.OccStart[c]; p < pEnd; p++)
                    {
                        double* xp = S + (long)p * d;
                        if (!perCell || p == grid.OccStart[c])
                        {
                            // Rows of cells along the last dimension that can hold a point within r:
                            // per cell (whole (2m+1)-cell rows), or per target (each row clipped to
                            // the part within r of the target's cell-unit coordinates).
                            for (int k = 0; k < d; k++) u[k] = (xp[k] - grid.Min[k]) * invH;
                            numRanges = 0;
                            total = 0;
                            for (int t = 0; t < _numLeading; t++)
                            {
                                long rowKey = 0;
                                double gap2 = 0;
                                bool inside = true;
                                for (int k = 0; k < lead; k++)
                                {
                                    long ck = cell[k] + _leading[t * lead + k];
                                    if (ck < 0 || ck >= grid.Dims[k]) { inside = false; break; }
                                    if (!perCell)
                                    {
                                        double gap = ck > cell[k] ? ck - u[k] : ck < cell[k] ? u[k] - (ck + 1) : 0;
                                        if (gap > 0) gap2 += gap * gap;
                                    }
                                    rowKey += ck * grid.Stride[k];
                                }
                                if (!inside || gap2 > rc2) continue;
                                long lo = cell[d - 1] - _reach, hi = cell[d - 1] + _reach;
                                if (!perCell)
                                {
                                    double half = Math.Sqrt(rc2 - gap2);
                                    lo = Math.Max(lo, (long)Math.Floor(u[d - 1] - half));
                                    hi = Math.Min(hi, (long)Math.Floor(u[d - 1] + half));
                                }
                                if (lo < 0) lo = 0;
                                if (hi > lastDims - 1) hi = lastDims - 1;
                                if (lo > hi) continue;
                                grid.Range(rowKey + lo, rowKey + hi, out int s, out int e);
                                if (e <= s) continue;
                                rs[numRanges] = s; re[numRanges] = e; numRanges++;
                                total += e - s;
                            }
                        }

                        chunk.Reserve(total, withD2);
                        int start = chunk.Count, count = start;
                        fixed (int* js = chunk.J)
                        fixed (double* d2s = chunk.D2)
                        {
                            if (d == 3 && Vector256.IsHardwareAccelerated)
                                count = Scan3(grid, p, r2, numRanges, rs, re, js, d2s, withD2, count);
                            else
                            {
                                for (int q = 0; q < numRanges; q++)
                                {
                                    int e = re[q];
                                    for (int o = rs[q]; o < e; o++)
                                    {
                                        double* xo = S + (long)o * d;
                                        double dd = 0;
                                        for (int k = 0; k < d; k++)
                                        {
                                            double dk = xo[k] - xp[k];
                                            dd += dk * dk;
                                        }
                                        js[count] = ord[o];
                                        if (withD2) d2s[count] = dd;
                                        count += (dd <= r2) & (o != p) ? 1 : 0;
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
                        fixed (int* js = chunk.J) SmallSort.Sort(js + start, found);
                        chunk.Count = start + found;
                        int node = p0 + ord[p];
                        _off[node] = start;
                        _cnt[node] = found;
                        _chunkOf[node] = chunkIndex;
                    }
                }
            }
        }

        /// <summary>
        /// Distance tests of target <paramref name="p"/> against the sorted-order ranges, four
        /// points at a time (axis-major coordinates). The arithmetic is the scalar one (separate
        /// multiplies and adds in dimension order, no fused multiply-add), so results are exact.
        /// </summary>
        private static unsafe int Scan3(CellGrid grid, int p, double r2, int numRanges, int[] rs, int[] re, int* js, double* d2s, bool withD2, int count)
        {
            int n = grid.N;
            fixed (double* axes = grid.SortedByAxis)
            fixed (int* ord = grid.Order)
            {
                double* xs = axes, ys = axes + n, zs = axes + 2 * n;
                double x = xs[p], y = ys[p], z = zs[p];
                var vx = Vector256.Create(x);
                var vy = Vector256.Create(y);
                var vz = Vector256.Create(z);
                var vr2 = Vector256.Create(r2);
                double* lanes = stackalloc double[4];
                for (int q = 0; q < numRanges; q++)
                {
                    int o = rs[q], e = re[q];
                    for (; o + 4 <= e; o += 4)
                    {
                        var dx = Vector256.Load(xs + o) - vx;
                        var dy = Vector256.Load(ys + o) - vy;
                        var dz = Vector256.Load(zs + o) - vz;
                        var dd = dx * dx + dy * dy + dz * dz;
                        uint mask = Vector256.LessThanOrEqual(dd, vr2).ExtractMostSignificantBits();
                        if (mask == 0) continue;
                        if (withD2) dd.Store(lanes);
                        do
                        {
                            int b = BitOperations.TrailingZeroCount(mask);
                            mask &= mask - 1;
                            if (o + b == p) continue;
                            js[count] = ord[o + b];
                            if (withD2) d2s[count] = lanes[b];
                            count++;
                        } while (mask != 0);
                    }
                    for (; o < e; o++)
                    {
                        double dx = xs[o] - x, dy = ys[o] - y, dz = zs[o] - z;
                        double dd = dx * dx + dy * dy + dz * dz;
                        js[count] = ord[o];
                        if (withD2) d2s[count] = dd;
                        count += (dd <= r2) & (o != p) ? 1 : 0;
                    }
                }
            }
            return count;
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

        /// <summary>Returns the candidate buffers to the pool.</summary>
        public void Release()
        {
            foreach (var ch in _chunks) ch.Release();
        }

        /// <summary>Writes the [2, E] edge tensor (sources sorted within each target, self-loops inserted).</summary>
        public unsafe Tensor Emit()
        {
            foreach (var ch in _chunks) { Dropped += ch.Dropped; Truncated += ch.Truncated; }
            int n = _in.N;
            int selfAdd = _self ? 1 : 0;
            var edgeStart = new long[n + 1];
            for (int i = 0; i < n; i++) edgeStart[i + 1] = edgeStart[i] + _cnt[i] + selfAdd;
            long e = edgeStart[n];
            var t = torch.empty([2, e], ScalarType.Int64);
            if (e == 0) return t;
            long* src = EdgeTensor.RowPointer(t, 0), dst = EdgeTensor.RowPointer(t, 1);
            var ptr = _in.Ptr;

            void FillTargets()
            {
                for (int i = 0; i < n; i++)
                    new Span<long>(dst + edgeStart[i], _cnt[i] + selfAdd).Fill(i);
            }

            void FillSources()
            {
                // Lists are sorted; copy them in target order, inserting the self-loop.
                for (int g = 0; g + 1 < ptr.Length; g++)
                {
                    int p0 = (int)ptr[g];
                    for (int i = p0; i < ptr[g + 1]; i++)
                    {
                        var js = _chunks[_chunkOf[i]].J.AsSpan(_off[i], _cnt[i]);
                        long w = edgeStart[i];
                        int q = 0;
                        if (_self)
                        {
                            for (; q < js.Length && p0 + js[q] < i; q++) src[w++] = p0 + js[q];
                            src[w++] = i;
                        }
                        for (; q < js.Length; q++) src[w++] = p0 + js[q];
                    }
                }
            }

            if (_threads > 1 && e >= 1_000_000)
                Parallel.Invoke(new ParallelOptions { MaxDegreeOfParallelism = 2 }, FillTargets, FillSources);
            else
            {
                FillTargets();
                FillSources();
            }
            return t;
        }
    }
}
