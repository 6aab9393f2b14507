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
    /// <summary>Bytes one value takes at most in an array: up to 20 digits and a comma.</summary>
    private const int BytesPerValue = EmfTemplate.MaxNumberLength + 1;

    private readonly int _maxValues;
    private readonly long _maxSkewMs;
    private readonly Dictionary<MergeKey, List<UsageRecord>> _groups = new(MergeKeyComparer.Instance);
    private readonly List<List<UsageRecord>> _order = [];

    public EmfMerger(int maxValues, TimeSpan maxSkew)
    {
        _maxValues = maxValues;
        _maxSkewMs = (long)maxSkew.TotalMilliseconds;
    }

    /// <summary>Records added since the last write.</summary>
    public int RecordCount { get; private set; }

    /// <summary>An upper bound of the bytes the records added so far will take once written.</summary>
    public long EstimatedBytes { get; private set; }

    public void Add(UsageRecord record)
    {
        var key = new MergeKey(record.Profile.Context, record.Profile.JsonEmitter, record.DimensionValues);
        if (!_groups.TryGetValue(key, out var group))
        {
            group = [];
            _groups.Add(key, group);
            _order.Add(group);
            EstimatedBytes += EstimateStatic(record);
        }

        group.Add(record);
        RecordCount++;
        EstimatedBytes += record.Usage.Length * BytesPerValue;
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
            // Stable, so records with equal timestamps keep their order.
            var records = group.Count > 1 ? group.OrderBy(r => r.TimestampMs).ToArray() : [group[0]];
            var start = 0;
            while (start < records.Length)
            {
                var end = start + 1;
                while (end < records.Length && end - start < _maxValues && records[end].TimestampMs - records[start].TimestampMs <= _maxSkewMs)
                {
                    end++;
                }

                events += WriteRun(writer, buffer, records.AsSpan(start, end - start), eventEnds, eventEmitters);
                if (end - start > 1)
                {
                    merged += end - start;
                }

                start = end;
            }
        }

        _groups.Clear();
        _order.Clear();
        RecordCount = 0;
        EstimatedBytes = 0;
        return (events, merged);
    }

    private static int WriteRun(EmfEventWriter writer, ByteBufferWriter buffer, ReadOnlySpan<UsageRecord> run, List<int> eventEnds, List<JsonEmitter?> eventEmitters)
    {
        var first = run[0];

        // The metrics of the run, in the order they first appear.
        var names = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in run)
        {
            foreach (var entry in record.Usage)
            {
                if (seen.Add(entry.Name))
                {
                    names.Add(entry.Name);
                }
            }
        }

        var events = 0;
        for (var chunkStart = 0; chunkStart < names.Count; chunkStart += EmfLimits.MaxMetricsPerEvent)
        {
            var chunk = names.GetRange(chunkStart, Math.Min(EmfLimits.MaxMetricsPerEvent, names.Count - chunkStart)).ToArray();
            var index = new Dictionary<string, int>(chunk.Length, StringComparer.Ordinal);
            for (var i = 0; i < chunk.Length; i++)
            {
                index[chunk[i]] = i;
            }

            var counts = new int[chunk.Length];
            foreach (var record in run)
            {
                foreach (var entry in record.Usage)
                {
                    if (index.TryGetValue(entry.Name, out var metric))
                    {
                        counts[metric]++;
                    }
                }
            }

            var offsets = new int[chunk.Length];
            for (var i = 1; i < chunk.Length; i++)
            {
                offsets[i] = offsets[i - 1] + counts[i - 1];
            }

            var values = new long[offsets[^1] + counts[^1]];
            foreach (var record in run)
            {
                foreach (var entry in record.Usage)
                {
                    if (index.TryGetValue(entry.Name, out var metric))
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
