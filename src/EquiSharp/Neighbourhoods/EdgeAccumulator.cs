namespace EquiSharp.Neighbourhoods;

/// <summary>
/// Global edge list in final order (by target, then source): the global source index of every edge
/// and the in-degree of every node. Turned into the [2, E] int64 tensor at the end.
/// </summary>
internal sealed class EdgeAccumulator(int numNodes)
{
    public int[] Sources = new int[Math.Max(16, numNodes * 4)];
    public long Count;
    public readonly int[] Degree = new int[numNodes];

    /// <summary>Makes room for <paramref name="extra"/> more edges.</summary>
    public void Reserve(long extra)
    {
        long need = Count + extra;
        if (need <= Sources.Length) return;
        if (need > Array.MaxLength)
            throw new InvalidOperationException($"The neighbour list would have {need} edges, more than the {Array.MaxLength} supported.");
        long cap = Math.Min(Array.MaxLength, Math.Max(need, (long)Sources.Length * 2));
        Array.Resize(ref Sources, (int)cap);
    }

    /// <summary>The [2, E] int64 CPU tensor: row 0 the sources, row 1 the targets.</summary>
    public TorchSharp.torch.Tensor ToTensor()
    {
        int n = Degree.Length;
        var edgeStart = new long[n + 1];
        for (int i = 0; i < n; i++) edgeStart[i + 1] = edgeStart[i] + Degree[i];
        var sources = Sources;
        return EdgeTensor.Create(Count, (row, start, span) =>
        {
            if (row == 0)
            {
                var src = sources.AsSpan((int)start, span.Length);
                for (int e = 0; e < span.Length; e++) span[e] = src[e];
                return;
            }
            // First node whose edges reach past 'start'.
            int lo = 0, hi = n;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (edgeStart[mid + 1] <= start) lo = mid + 1; else hi = mid;
            }
            long end = start + span.Length;
            for (int i = lo; i < n && edgeStart[i] < end; i++)
            {
                long a = Math.Max(edgeStart[i], start), b = Math.Min(edgeStart[i + 1], end);
                span.Slice((int)(a - start), (int)(b - a)).Fill(i);
            }
        });
    }
}
