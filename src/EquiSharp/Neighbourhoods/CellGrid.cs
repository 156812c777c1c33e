namespace EquiSharp.Neighbourhoods;

/// <summary>
/// A uniform grid of cubic cells of side <see cref="H"/> over the bounding box of one point cloud,
/// with the points sorted by cell (counting sort for a dense grid, comparison sort of cell keys for
/// a sparse one). Cell keys are row-major with the last dimension fastest, so cells that are
/// neighbours along the last dimension are contiguous in the sorted order.
/// </summary>
/// <remarks>Workspace arrays grow and are reused between graphs; not thread-safe.</remarks>
internal sealed class CellGrid
{
    /// <summary>Largest cell count per dimension, which keeps cell coordinates well inside double precision.</summary>
    private const long MaxCellsPerDim = 1L << 20;

    public int N;
    public int D;
    public double H;
    public double InvH;
    public bool Dense;
    public double[] Min = [];
    public long[] Dims = [];
    public long[] Stride = [];
    public long NumCells;

    /// <summary>Cell key of every point (by local index).</summary>
    public long[] Key = [];
    /// <summary>Sorted position → local point index.</summary>
    public int[] Order = [];
    /// <summary>Local point index → sorted position.</summary>
    public int[] Rank = [];
    /// <summary>Coordinates in sorted order [N * D].</summary>
    public double[] Sorted = [];
    /// <summary>Coordinates in sorted order, one axis after the other [D * N] (for vectorised scans).</summary>
    public double[] SortedByAxis = [];
    /// <summary>Occupied cells in key order and their start in the sorted order ([M + 1]).</summary>
    public long[] OccKey = [];
    public int[] OccStart = [];
    public int M;
    /// <summary>Dense grids: start of every cell in the sorted order ([NumCells + 1]).</summary>
    public int[] DenseStart = [];

    /// <summary>
    /// Builds the grid for <paramref name="n"/> points of dimension <paramref name="d"/> stored row-major
    /// in <paramref name="coords"/>, with cells of side at least <paramref name="minCell"/> (enlarged
    /// where needed so that no dimension has more than 2^20 cells and the key fits in 62 bits).
    /// The grid is dense when it has at most <paramref name="maxDenseCells"/> cells.
    /// </summary>
    public void Build(ReadOnlySpan<double> coords, int n, int d, double minCell, long maxDenseCells)
    {
        N = n;
        D = d;
        EnsureDims(d);
        Span<double> max = stackalloc double[d];
        for (int k = 0; k < d; k++) { Min[k] = double.PositiveInfinity; max[k] = double.NegativeInfinity; }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < d; k++)
            {
                double v = coords[i * d + k];
                if (v < Min[k]) Min[k] = v;
                if (v > max[k]) max[k] = v;
            }

        // Per-dimension cap such that the product of the dimensions stays below 2^62.
        long perDimCap = Math.Min(MaxCellsPerDim, (long)Math.Floor(Math.Pow(2.0, 62.0 / d)));
        double h = minCell;
        for (int k = 0; k < d; k++)
        {
            double ext = max[k] - Min[k];
            if (ext / h > perDimCap - 2) h = ext / (perDimCap - 2);
        }
        if (!(h > 0) || !double.IsFinite(h)) h = 1.0;
        H = h;
        InvH = 1.0 / h;
        double cells = 1;
        for (int k = 0; k < d; k++)
        {
            Dims[k] = (long)Math.Floor((max[k] - Min[k]) * InvH) + 1;
            cells *= Dims[k];
        }
        long stride = 1;
        for (int k = d - 1; k >= 0; k--) { Stride[k] = stride; stride *= Dims[k]; }
        NumCells = stride;
        Dense = cells <= maxDenseCells;

        EnsurePoints(n, d);
        for (int i = 0; i < n; i++)
        {
            long key = 0;
            for (int k = 0; k < d; k++)
            {
                long c = (long)((coords[i * d + k] - Min[k]) * InvH);
                if (c >= Dims[k]) c = Dims[k] - 1;
                key += c * Stride[k];
            }
            Key[i] = key;
        }

        if (Dense) SortDense(n); else SortSparse(n);

        for (int p = 0; p < n; p++)
        {
            int i = Order[p];
            Rank[i] = p;
            coords.Slice(i * d, d).CopyTo(Sorted.AsSpan(p * d, d));
            for (int k = 0; k < d; k++) SortedByAxis[k * n + p] = coords[i * d + k];
        }
    }

    private void SortDense(int n)
    {
        int cells = (int)NumCells;
        if (DenseStart.Length < cells + 1) DenseStart = new int[Math.Max(cells + 1, DenseStart.Length * 2)];
        var start = DenseStart.AsSpan(0, cells + 1);
        start.Clear();
        for (int i = 0; i < n; i++) start[(int)Key[i] + 1]++;
        int m = 0;
        for (int c = 0; c < cells; c++)
        {
            if (start[c + 1] > 0) m++;
            start[c + 1] += start[c];
        }
        EnsureOccupied(m);
        M = 0;
        for (int c = 0; c < cells; c++)
            if (start[c + 1] > start[c]) { OccKey[M] = c; OccStart[M] = start[c]; M++; }
        OccStart[M] = n;
        // Stable placement: points of a cell keep increasing local index. start[c] is used as the
        // cursor and restored afterwards from the occupied list.
        for (int i = 0; i < n; i++) Order[start[(int)Key[i]]++] = i;
        for (int c = cells; c > 0; c--) start[c] = start[c - 1];
        start[0] = 0;
    }

    private void SortSparse(int n)
    {
        var keys = new long[n];
        Array.Copy(Key, keys, n);
        for (int i = 0; i < n; i++) Order[i] = i;
        // Sort (key, index) pairs so the order inside a cell is by index, as in the dense path.
        Array.Sort(keys, Order, 0, n);
        int lo = 0;
        while (lo < n)
        {
            int hi = lo + 1;
            while (hi < n && keys[hi] == keys[lo]) hi++;
            if (hi - lo > 1) Array.Sort(Order, lo, hi - lo);
            lo = hi;
        }
        int m = 0;
        for (int p = 0; p < n; p++) if (p == 0 || keys[p] != keys[p - 1]) m++;
        EnsureOccupied(m);
        M = 0;
        for (int p = 0; p < n; p++)
            if (p == 0 || keys[p] != keys[p - 1]) { OccKey[M] = keys[p]; OccStart[M] = p; M++; }
        OccStart[M] = n;
    }

    /// <summary>
    /// Sorted-order range [start, end) of the points in the cells with keys keyLo..keyHi
    /// (consecutive keys, i.e. a run along the last dimension).
    /// </summary>
    public void Range(long keyLo, long keyHi, out int start, out int end)
    {
        if (Dense)
        {
            start = DenseStart[keyLo];
            end = DenseStart[keyHi + 1];
            return;
        }
        int a = LowerBound(keyLo), b = LowerBound(keyHi + 1);
        start = OccStart[a];
        end = OccStart[b];
    }

    private int LowerBound(long key)
    {
        int lo = 0, hi = M;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (OccKey[mid] < key) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>Cell coordinates of a key.</summary>
    public void Decode(long key, Span<long> cell)
    {
        for (int k = 0; k < D; k++)
        {
            cell[k] = key / Stride[k];
            key -= cell[k] * Stride[k];
        }
    }

    private void EnsureDims(int d)
    {
        if (Min.Length < d) { Min = new double[d]; Dims = new long[d]; Stride = new long[d]; }
    }

    private void EnsurePoints(int n, int d)
    {
        if (Key.Length < n)
        {
            int cap = Math.Max(n, Key.Length * 2);
            Key = new long[cap];
            Order = new int[cap];
            Rank = new int[cap];
        }
        if (Sorted.Length < n * d) Sorted = new double[Math.Max(n * d, Sorted.Length * 2)];
        if (SortedByAxis.Length < n * d) SortedByAxis = new double[Math.Max(n * d, SortedByAxis.Length * 2)];
    }

    private void EnsureOccupied(int m)
    {
        if (OccKey.Length < m + 1) { OccKey = new long[Math.Max(m + 1, OccKey.Length * 2)]; OccStart = new int[OccKey.Length]; }
    }
}
