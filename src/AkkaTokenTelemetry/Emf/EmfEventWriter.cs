using System.Buffers;
using System.Buffers.Text;

namespace AkkaTokenTelemetry;

/// <summary>
/// The hot-path EMF writer: writes events as UTF-8 bytes into an <see cref="IBufferWriter{T}"/>, one line each
/// (terminated by <c>\n</c>). Everything but the timestamp and the values comes from a cached
/// <see cref="EmfTemplate"/>, so a steady stream of records allocates nothing.
/// </summary>
/// <remarks>
/// <para>Its input is already valid: the router has resolved, sanitized and checked it (dimension values in
/// <see cref="EmfContext.DimensionKeys"/> order, metric names valid and not colliding with dimension keys,
/// counts of 0 or more). Its output equals <c>EmfPayload.Build</c> for the same input.</para>
/// <para>The template cache holds at most <c>templateCapacity</c> templates; when it is full it starts again
/// empty, which keeps memory bounded when dimension values vary without limit.</para>
/// <para>Not thread-safe: one writer per stream stage or thread.</para>
/// </remarks>
internal sealed class EmfEventWriter
{
    /// <summary>The default number of templates kept.</summary>
    public const int DefaultTemplateCapacity = 1024;

    private readonly HashSet<EmfTemplate> _templates;
    private readonly HashSet<EmfTemplate>.AlternateLookup<EmfTemplateKey> _lookup;
    private readonly int _capacity;
    private EmfTemplate? _last;

    public EmfEventWriter(int templateCapacity = DefaultTemplateCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(templateCapacity, 1);
        _capacity = templateCapacity;
        _templates = new HashSet<EmfTemplate>(EmfTemplateComparer.Instance);
        _lookup = _templates.GetAlternateLookup<EmfTemplateKey>();
    }

    /// <summary>Templates currently cached.</summary>
    public int TemplateCount => _templates.Count;

    /// <summary>How often the cache was full and started again empty.</summary>
    public long TemplateCacheResets { get; private set; }

    /// <summary>
    /// Writes one record as one event, or as several when it has more than <see cref="EmfLimits.MaxMetricsPerEvent"/>
    /// usage keys; each event repeats timestamp, namespace, dimension values and extra properties.
    /// </summary>
    /// <returns>The number of events written (0 when <paramref name="usage"/> is empty).</returns>
    public int WriteRecord(IBufferWriter<byte> output, EmfContext context, ReadOnlySpan<string> dimensionValues, ReadOnlySpan<UsageEntry> usage, long timestampMs)
    {
        var events = 0;
        while (!usage.IsEmpty)
        {
            var chunk = usage.Length > EmfLimits.MaxMetricsPerEvent ? usage[..EmfLimits.MaxMetricsPerEvent] : usage;
            var template = GetTemplate(new EmfTemplateKey(context, dimensionValues, chunk));
            WriteSingle(output, template, chunk, timestampMs);
            usage = usage[chunk.Length..];
            events++;
        }

        return events;
    }

    /// <summary>
    /// Writes one merged event: metric <c>i</c> of <paramref name="metricNames"/> takes the next
    /// <paramref name="counts"/>[i] values of <paramref name="values"/> (1 to 100), written as an array, or as a
    /// plain number when there is one value.
    /// </summary>
    public void WriteMerged(
        IBufferWriter<byte> output,
        EmfContext context,
        ReadOnlySpan<string> dimensionValues,
        ReadOnlySpan<string> metricNames,
        ReadOnlySpan<long> values,
        ReadOnlySpan<int> counts,
        long timestampMs)
    {
        if (metricNames.Length is 0 or > EmfLimits.MaxMetricsPerEvent)
        {
            throw new ArgumentOutOfRangeException(nameof(metricNames), metricNames.Length, $"A merged event has 1 to {EmfLimits.MaxMetricsPerEvent} metrics.");
        }

        if (counts.Length != metricNames.Length)
        {
            throw new ArgumentException("One count per metric name is required.", nameof(counts));
        }

        var total = 0;
        foreach (var count in counts)
        {
            if (count is < 1 or > EmfLimits.MaxValuesPerMetric)
            {
                throw new ArgumentOutOfRangeException(nameof(counts), count, $"A metric of a merged event has 1 to {EmfLimits.MaxValuesPerMetric} values.");
            }

            total += count;
        }

        if (total != values.Length)
        {
            throw new ArgumentException($"The counts add up to {total}, but {values.Length} values were given.", nameof(values));
        }

        var template = GetTemplate(new EmfTemplateKey(context, dimensionValues, metricNames));
        var size = template.MaxSingleEventSize + (metricNames.Length * 2) + (values.Length * (EmfTemplate.MaxNumberLength + 1));
        var span = output.GetSpan(size);
        var position = WriteStart(span, template, timestampMs);
        var prefixes = template.Prefixes;
        var prefixStart = 0;
        var valueIndex = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            var prefixEnd = template.PrefixEnds[i];
            prefixes.AsSpan(prefixStart, prefixEnd - prefixStart).CopyTo(span[position..]);
            position += prefixEnd - prefixStart;
            prefixStart = prefixEnd;
            if (counts[i] == 1)
            {
                position += WriteNumber(span[position..], values[valueIndex++]);
                continue;
            }

            span[position++] = (byte)'[';
            for (var j = 0; j < counts[i]; j++)
            {
                if (j > 0)
                {
                    span[position++] = (byte)',';
                }

                position += WriteNumber(span[position..], values[valueIndex++]);
            }

            span[position++] = (byte)']';
        }

        span[position++] = (byte)'}';
        span[position++] = (byte)'\n';
        output.Advance(position);
    }

    private EmfTemplate GetTemplate(EmfTemplateKey key)
    {
        // Consecutive records of one agent and model usually need the same template: compare before hashing.
        if (_last is { } last && EmfTemplateComparer.Instance.Equals(key, last))
        {
            return last;
        }

        if (_lookup.TryGetValue(key, out var template))
        {
            _last = template;
            return template;
        }

        if (_templates.Count >= _capacity)
        {
            _templates.Clear();
            TemplateCacheResets++;
        }

        template = EmfTemplateComparer.Instance.Create(key);
        _templates.Add(template);
        _last = template;
        return template;
    }

    private static void WriteSingle(IBufferWriter<byte> output, EmfTemplate template, ReadOnlySpan<UsageEntry> usage, long timestampMs)
    {
        var span = output.GetSpan(template.MaxSingleEventSize);
        var position = WriteStart(span, template, timestampMs);
        var prefixes = template.Prefixes;
        var ends = template.PrefixEnds;
        var prefixStart = 0;
        for (var i = 0; i < usage.Length; i++)
        {
            var prefixEnd = ends[i];
            prefixes.AsSpan(prefixStart, prefixEnd - prefixStart).CopyTo(span[position..]);
            position += prefixEnd - prefixStart;
            prefixStart = prefixEnd;
            position += WriteNumber(span[position..], usage[i].Value);
        }

        span[position++] = (byte)'}';
        span[position++] = (byte)'\n';
        output.Advance(position);
    }

    private static int WriteStart(Span<byte> span, EmfTemplate template, long timestampMs)
    {
        EmfTemplate.Head.CopyTo(span);
        var position = EmfTemplate.Head.Length;
        position += WriteNumber(span[position..], timestampMs);
        template.Body.CopyTo(span[position..]);
        return position + template.Body.Length;
    }

    private static int WriteNumber(Span<byte> destination, long value)
    {
        Utf8Formatter.TryFormat(value, destination, out var written);
        return written;
    }
}
