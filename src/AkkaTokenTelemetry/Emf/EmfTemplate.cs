using System.Buffers;
using System.Runtime.CompilerServices;

namespace AkkaTokenTelemetry;

/// <summary>One usage count of a record: a metric name and its value.</summary>
internal readonly record struct UsageEntry(string Name, long Value);

/// <summary>
/// Every byte of one EMF event except the timestamp and the metric values, for one combination of context,
/// dimension values and metric names. Built once per combination, then reused by <see cref="EmfEventWriter"/>.
/// </summary>
internal sealed class EmfTemplate
{
    private EmfTemplate(EmfContext context, string[] dimensionValues, string[] metricNames, byte[] body, byte[] prefixes, int[] prefixEnds, int hash)
    {
        Context = context;
        DimensionValues = dimensionValues;
        MetricNames = metricNames;
        Body = body;
        Prefixes = prefixes;
        PrefixEnds = prefixEnds;
        Hash = hash;
    }

    /// <summary>The bytes every event starts with, up to the timestamp.</summary>
    public static ReadOnlySpan<byte> Head => "{\"_aws\":{\"Timestamp\":"u8;

    public EmfContext Context { get; }

    public string[] DimensionValues { get; }

    public string[] MetricNames { get; }

    /// <summary>From just after the timestamp to just before the first metric member: directive, dimension values, properties.</summary>
    public byte[] Body { get; }

    /// <summary><c>,"name":</c> for each metric, one after the other; metric <c>i</c> ends at <see cref="PrefixEnds"/>[i].</summary>
    public byte[] Prefixes { get; }

    public int[] PrefixEnds { get; }

    public int Hash { get; }

    /// <summary>Bytes an event of this template takes at most, with one value per metric and the trailing newline.</summary>
    public int MaxSingleEventSize => Head.Length + MaxNumberLength + Body.Length + Prefixes.Length + (MetricNames.Length * MaxNumberLength) + 2;

    /// <summary>The longest text of a <see cref="long"/>: 20 characters.</summary>
    public const int MaxNumberLength = 20;

    public static EmfTemplate Create(EmfContext context, ReadOnlySpan<string> dimensionValues, string[] metricNames, int hash)
    {
        var body = new ArrayBufferWriter<byte>(256 + (metricNames.Length * 48));
        EmfContext.Append(body, context.DirectiveStart);
        for (var i = 0; i < metricNames.Length; i++)
        {
            EmfContext.Append(body, i == 0 ? "{\"Name\":"u8 : ",{\"Name\":"u8);
            EmfContext.Append(body, EmfContext.EncodeString(metricNames[i]));
            EmfContext.Append(body, context.StorageResolution == 1 ? ",\"Unit\":\"Count\",\"StorageResolution\":1}"u8 : ",\"Unit\":\"Count\"}"u8);
        }

        EmfContext.Append(body, "]}]}"u8);
        for (var i = 0; i < dimensionValues.Length; i++)
        {
            EmfContext.Append(body, ","u8);
            EmfContext.Append(body, context.EncodedDimensionKeys[i]);
            EmfContext.Append(body, ":"u8);
            EmfContext.Append(body, EmfContext.EncodeString(dimensionValues[i]));
        }

        for (var i = 0; i < context.Properties.Length; i++)
        {
            // A metric wins over an extra property of the same name: the property is left out of this event.
            if (Array.IndexOf(metricNames, context.Properties[i].Key) < 0)
            {
                EmfContext.Append(body, context.EncodedProperties[i]);
            }
        }

        var prefixes = new ArrayBufferWriter<byte>(metricNames.Length * 24);
        var ends = new int[metricNames.Length];
        for (var i = 0; i < metricNames.Length; i++)
        {
            EmfContext.Append(prefixes, ","u8);
            EmfContext.Append(prefixes, EmfContext.EncodeString(metricNames[i]));
            EmfContext.Append(prefixes, ":"u8);
            ends[i] = prefixes.WrittenCount;
        }

        return new EmfTemplate(context, dimensionValues.ToArray(), metricNames, body.WrittenSpan.ToArray(), prefixes.WrittenSpan.ToArray(), ends, hash);
    }
}

/// <summary>What a template is looked up by, without allocating: the record's own spans.</summary>
internal readonly ref struct EmfTemplateKey
{
    public EmfTemplateKey(EmfContext context, ReadOnlySpan<string> dimensionValues, ReadOnlySpan<UsageEntry> usage)
    {
        Context = context;
        DimensionValues = dimensionValues;
        Usage = usage;
        Names = default;
        FromNames = false;
    }

    public EmfTemplateKey(EmfContext context, ReadOnlySpan<string> dimensionValues, ReadOnlySpan<string> names)
    {
        Context = context;
        DimensionValues = dimensionValues;
        Usage = default;
        Names = names;
        FromNames = true;
    }

    public EmfContext Context { get; }

    public ReadOnlySpan<string> DimensionValues { get; }

    public ReadOnlySpan<UsageEntry> Usage { get; }

    public ReadOnlySpan<string> Names { get; }

    public bool FromNames { get; }

    public int MetricCount => FromNames ? Names.Length : Usage.Length;

    public string MetricName(int index) => FromNames ? Names[index] : Usage[index].Name;

    public int ComputeHash()
    {
        var hash = new HashCode();
        hash.Add(RuntimeHelpers.GetHashCode(Context));
        foreach (var value in DimensionValues)
        {
            hash.Add(value.GetHashCode(StringComparison.Ordinal));
        }

        var count = MetricCount;
        for (var i = 0; i < count; i++)
        {
            hash.Add(MetricName(i).GetHashCode(StringComparison.Ordinal));
        }

        return hash.ToHashCode();
    }
}

/// <summary>Compares templates with each other and with lookup keys by context identity, dimension values and metric names.</summary>
internal sealed class EmfTemplateComparer : IEqualityComparer<EmfTemplate>, IAlternateEqualityComparer<EmfTemplateKey, EmfTemplate>
{
    public static readonly EmfTemplateComparer Instance = new();

    public bool Equals(EmfTemplate? x, EmfTemplate? y) =>
        ReferenceEquals(x, y) ||
        (x is not null && y is not null && x.Hash == y.Hash && ReferenceEquals(x.Context, y.Context) &&
         x.DimensionValues.AsSpan().SequenceEqual(y.DimensionValues) && x.MetricNames.AsSpan().SequenceEqual(y.MetricNames));

    public int GetHashCode(EmfTemplate obj) => obj.Hash;

    public bool Equals(EmfTemplateKey alternate, EmfTemplate other)
    {
        if (!ReferenceEquals(alternate.Context, other.Context) ||
            alternate.MetricCount != other.MetricNames.Length ||
            !alternate.DimensionValues.SequenceEqual(other.DimensionValues))
        {
            return false;
        }

        var names = other.MetricNames;
        for (var i = 0; i < names.Length; i++)
        {
            if (!string.Equals(alternate.MetricName(i), names[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    public int GetHashCode(EmfTemplateKey alternate) => alternate.ComputeHash();

    public EmfTemplate Create(EmfTemplateKey alternate)
    {
        var names = new string[alternate.MetricCount];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = alternate.MetricName(i);
        }

        return EmfTemplate.Create(alternate.Context, alternate.DimensionValues, names, alternate.ComputeHash());
    }
}
