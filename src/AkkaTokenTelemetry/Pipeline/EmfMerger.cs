using System.Runtime.CompilerServices;

namespace AkkaTokenTelemetry;

/// <summary>
/// Merge mode: collects the records of one batch by what their events share — namespace, dimension sets,
/// dimension values, extra properties, storage resolution (and, for hooks with their own emitter, that emitter) —
/// and writes each group as few events as possible, with metric members that are arrays of at most
/// <c>merge.max-values</c> values. Records whose timestamps are more than <c>merge.max-skew</c> apart are not put in
/// one event; an event carries the earliest timestamp of its records. A metric missing from some records simply
/// has fewer values. Records that differ in anything are never merged.
/// </summary>
/// <remarks>Not thread-safe: one per batching stage.</remarks>
internal sealed class EmfMerger
{
    private readonly int _maxValues;
    private readonly long _maxSkewMs;
    private readonly Dictionary<MergeKey, List<UsageRecord>> _groups = new(MergeKeyComparer.Instance);
    private readonly List<List<UsageRecord>> _order = [];
    private readonly Stack<List<UsageRecord>> _spareGroups = new();
    private readonly List<string> _names = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private int[] _counts = new int[16];
    private int[] _offsets = new int[16];
    private long[] _values = new long[256];
    private string[] _chunkNames = new string[16];

    public EmfMerger(int maxValues, TimeSpan maxSkew)
    {
        _maxValues = maxValues;
        _maxSkewMs = (long)maxSkew.TotalMilliseconds;
    }

    /// <summary>Records added since the last write.</summary>
    public int RecordCount { get; private set; }

    /// <summary>An upper bound of the bytes the records added so far will take once written.</summary>
    public long EstimatedBytes { get; private set; }

    /// <summary>About how many events the records added so far will become (one per group and per max-values records).</summary>
    public int EstimatedEvents { get; private set; }

    public void Add(UsageRecord record)
    {
        var key = new MergeKey(record.Profile.Context, record.Profile.JsonEmitter, record.DimensionValues);
        if (!_groups.TryGetValue(key, out var group))
        {
            group = _spareGroups.Count > 0 ? _spareGroups.Pop() : [];
            _groups.Add(key, group);
            _order.Add(group);
            EstimatedBytes += EstimateStatic(record);
        }

        if (group.Count % _maxValues == 0)
        {
            EstimatedEvents++;
        }

        group.Add(record);
        RecordCount++;
        foreach (var entry in record.Usage)
        {
            EstimatedBytes += Digits(entry.Value) + 1; // the value and its comma
        }
    }

    /// <summary>
    /// Writes every group as merged events (each followed by a newline), noting where each event ends and whose
    /// emitter it is for, then starts empty.
    /// </summary>
    /// <returns>The events written, and how many records share an event with at least one other record.</returns>
    public (int Events, int MergedRecords) WriteTo(EmfEventWriter writer, ByteBufferWriter buffer, List<int> eventEnds, List<JsonEmitter?> eventEmitters)
    {
        var events = 0;
        var merged = 0;
        foreach (var group in _order)
        {
            if (!IsSortedByTime(group))
            {
                // Stable, so records with equal timestamps keep their order.
                var sorted = group.OrderBy(r => r.TimestampMs).ToArray();
                group.Clear();
                group.AddRange(sorted);
            }

            var records = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(group);
            var start = 0;
            while (start < records.Length)
            {
                var end = start + 1;
                while (end < records.Length && end - start < _maxValues && records[end].TimestampMs - records[start].TimestampMs <= _maxSkewMs)
                {
                    end++;
                }

                var run = records[start..end];
                if (run.Length == 1)
                {
                    // Nothing to merge: the plain event (the same bytes a merged event of one record would be).
                    var record = run[0];
                    var before = eventEnds.Count;
                    var written = writer.WriteRecord(buffer, record.Profile.Context, record.DimensionValues, record.Usage, record.TimestampMs);
                    AddEnds(buffer, eventEnds, written);
                    for (var i = 0; i < written; i++)
                    {
                        eventEmitters.Add(record.Profile.JsonEmitter);
                    }

                    events += eventEnds.Count - before;
                }
                else
                {
                    events += WriteRun(writer, buffer, run, eventEnds, eventEmitters);
                    merged += run.Length;
                }

                start = end;
            }

        }

        Clear();
        return (events, merged);
    }

    /// <summary>Forgets every record added (after a failed write, whose records are counted as dropped).</summary>
    public void Clear()
    {
        foreach (var group in _order)
        {
            group.Clear();
            _spareGroups.Push(group);
        }

        _groups.Clear();
        _order.Clear();
        RecordCount = 0;
        EstimatedBytes = 0;
        EstimatedEvents = 0;
    }

    private static bool IsSortedByTime(List<UsageRecord> group)
    {
        for (var i = 1; i < group.Count; i++)
        {
            if (group[i].TimestampMs < group[i - 1].TimestampMs)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Notes the ends of the <paramref name="written"/> events just written (a record over 100 keys is several).</summary>
    private static void AddEnds(ByteBufferWriter buffer, List<int> eventEnds, int written)
    {
        if (written == 1)
        {
            eventEnds.Add(buffer.WrittenCount);
            return;
        }

        var bytes = buffer.WrittenSpan;
        var ends = new List<int>(written);
        for (var i = bytes.Length - 1; i >= 0 && ends.Count < written; i--)
        {
            if (bytes[i] == (byte)'\n')
            {
                ends.Add(i + 1);
            }
        }

        ends.Reverse();
        eventEnds.AddRange(ends);
    }

    private int WriteRun(EmfEventWriter writer, ByteBufferWriter buffer, ReadOnlySpan<UsageRecord> run, List<int> eventEnds, List<JsonEmitter?> eventEmitters)
    {
        var first = run[0];
        if (first.Usage.Length <= EmfLimits.MaxMetricsPerEvent && SameMetrics(run))
        {
            // The usual case: every record reports the same counters in the same order.
            return WriteSameMetrics(writer, buffer, run, eventEnds, eventEmitters);
        }

        // The metrics of the run, in the order they first appear.
        var names = _names;
        var index = _index;
        names.Clear();
        index.Clear();
        foreach (var record in run)
        {
            foreach (var entry in record.Usage)
            {
                if (index.TryAdd(entry.Name, names.Count))
                {
                    names.Add(entry.Name);
                }
            }
        }

        var events = 0;
        for (var chunkStart = 0; chunkStart < names.Count; chunkStart += EmfLimits.MaxMetricsPerEvent)
        {
            var chunkLength = Math.Min(EmfLimits.MaxMetricsPerEvent, names.Count - chunkStart);
            var chunk = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(names).Slice(chunkStart, chunkLength);
            var counts = Scratch(ref _counts, chunkLength);
            var offsets = Scratch(ref _offsets, chunkLength);
            counts.Clear();
            foreach (var record in run)
            {
                foreach (var entry in record.Usage)
                {
                    var metric = index[entry.Name] - chunkStart;
                    if ((uint)metric < (uint)chunkLength)
                    {
                        counts[metric]++;
                    }
                }
            }

            offsets[0] = 0;
            for (var i = 1; i < chunkLength; i++)
            {
                offsets[i] = offsets[i - 1] + counts[i - 1];
            }

            var values = Scratch(ref _values, offsets[chunkLength - 1] + counts[chunkLength - 1]);
            foreach (var record in run)
            {
                foreach (var entry in record.Usage)
                {
                    var metric = index[entry.Name] - chunkStart;
                    if ((uint)metric < (uint)chunkLength)
                    {
                        values[offsets[metric]++] = entry.Value;
                    }
                }
            }

            writer.WriteMerged(buffer, first.Profile.Context, first.DimensionValues, chunk, values, counts, first.TimestampMs);
            eventEnds.Add(buffer.WrittenCount);
            eventEmitters.Add(first.Profile.JsonEmitter);
            events++;
        }

        return events;
    }

    private static bool SameMetrics(ReadOnlySpan<UsageRecord> run)
    {
        var names = run[0].Usage;
        for (var r = 1; r < run.Length; r++)
        {
            var usage = run[r].Usage;
            if (usage.Length != names.Length)
            {
                return false;
            }

            for (var i = 0; i < usage.Length; i++)
            {
                if (!string.Equals(usage[i].Name, names[i].Name, StringComparison.Ordinal))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private int WriteSameMetrics(EmfEventWriter writer, ByteBufferWriter buffer, ReadOnlySpan<UsageRecord> run, List<int> eventEnds, List<JsonEmitter?> eventEmitters)
    {
        var first = run[0];
        var metrics = first.Usage.Length;
        var names = Scratch(ref _chunkNames, metrics);
        var counts = Scratch(ref _counts, metrics);
        var values = Scratch(ref _values, metrics * run.Length);
        for (var m = 0; m < metrics; m++)
        {
            names[m] = first.Usage[m].Name;
            counts[m] = run.Length;
            for (var r = 0; r < run.Length; r++)
            {
                values[(m * run.Length) + r] = run[r].Usage[m].Value;
            }
        }

        writer.WriteMerged(buffer, first.Profile.Context, first.DimensionValues, names, values, counts, first.TimestampMs);
        eventEnds.Add(buffer.WrittenCount);
        eventEmitters.Add(first.Profile.JsonEmitter);
        return 1;
    }

    /// <summary>A reusable scratch array of at least <paramref name="length"/>, cut to exactly that.</summary>
    private static Span<T> Scratch<T>(ref T[] array, int length)
    {
        if (array.Length < length)
        {
            array = new T[Math.Max(length, array.Length * 2)];
        }

        return array.AsSpan(0, length);
    }

    /// <summary>Decimal digits of a count (at most one too many): from its bit length, without dividing.</summary>
    private static int Digits(long value)
    {
        if (value <= 0)
        {
            return value == 0 ? 1 : EmfTemplate.MaxNumberLength;
        }

        var bits = 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)value);
        return ((bits * 1233) >> 12) + 1;
    }

    private static long EstimateStatic(UsageRecord record)
    {
        var context = record.Profile.Context;
        long size = 64 + context.DirectiveStart.Length;
        foreach (var property in context.EncodedProperties)
        {
            size += property.Length;
        }

        for (var i = 0; i < record.DimensionValues.Length; i++)
        {
            size += context.EncodedDimensionKeys[i].Length + (record.DimensionValues[i].Length * 6) + 4;
        }

        foreach (var entry in record.Usage)
        {
            size += 64 + (entry.Name.Length * 6);
        }

        return size;
    }

    /// <summary>What records must share to be merged.</summary>
    private readonly record struct MergeKey(EmfContext Context, JsonEmitter? Emitter, string[] DimensionValues);

    private sealed class MergeKeyComparer : IEqualityComparer<MergeKey>
    {
        public static readonly MergeKeyComparer Instance = new();

        public bool Equals(MergeKey x, MergeKey y) =>
            ReferenceEquals(x.Emitter, y.Emitter) &&
            x.Context.SameAs(y.Context) &&
            x.DimensionValues.AsSpan().SequenceEqual(y.DimensionValues);

        public int GetHashCode(MergeKey key)
        {
            var hash = new HashCode();
            hash.Add(key.Context.SignatureHash);
            hash.Add(key.Emitter is null ? 0 : RuntimeHelpers.GetHashCode(key.Emitter));
            foreach (var value in key.DimensionValues)
            {
                hash.Add(value.GetHashCode(StringComparison.Ordinal));
            }

            return hash.ToHashCode();
        }
    }
}
