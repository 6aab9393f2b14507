using System.Text;
using CsCheck;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>A random, valid input for one EMF event.</summary>
public sealed record EmfInput(
    string Namespace,
    IReadOnlyList<IReadOnlyList<string>> Dimensions,
    Dictionary<string, string> DimensionValues,
    Dictionary<string, object?> ExtraProperties,
    Dictionary<string, long> Usage,
    long TimestampMs)
{
    public override string ToString() =>
        $"ns={Namespace} dims={string.Join("|", Dimensions.Select(s => string.Join(",", s)))} props={ExtraProperties.Count} usage={Usage.Count} ts={TimestampMs}";
}

/// <summary>CsCheck generators for valid EMF inputs, including random Unicode text.</summary>
public static class EmfGen
{
    private const string NamespaceChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/#: ";

    /// <summary>A Unicode scalar: mostly ASCII, some control characters, BMP letters (CJK, accents) and supplementary (emoji).</summary>
    public static readonly Gen<string> Scalar = Gen.Frequency(
        (10, Gen.Int[0x20, 0x7E]),
        (2, Gen.Int[0x00, 0x1F]),
        (3, Gen.Int[0x80, 0xD7FF]),
        (1, Gen.Int[0xE000, 0xFFFD]),
        (2, Gen.Int[0x10000, 0x10FFFF])).Select(char.ConvertFromUtf32);

    /// <summary>Any UTF-16 code unit, lone surrogates included: what a .NET string may really hold.</summary>
    public static readonly Gen<string> CodeUnit = Gen.Frequency(
        (8, Scalar),
        (1, Gen.Char[(char)0xD800, (char)0xDFFF].Select(c => c.ToString())));

    /// <summary>Valid Unicode text (no lone surrogates).</summary>
    public static Gen<string> UnicodeText(int min, int max) => Scalar.Array[min, max].Select(parts => string.Concat(parts));

    /// <summary>Any .NET string, lone surrogates included.</summary>
    public static Gen<string> AnyText(int min, int max) => CodeUnit.Array[min, max].Select(parts => string.Concat(parts));

    public static readonly Gen<string> PrintableAscii = Gen.String[Gen.Char[' ', '~'], 1, 40];

    public static readonly Gen<string> Namespace = Gen.String[Gen.Char[NamespaceChars], 1, 255]
        .Where(ns => !string.IsNullOrWhiteSpace(ns) && !ns.StartsWith("AWS/", StringComparison.Ordinal));

    public static readonly Gen<string> DimensionKey = PrintableAscii
        .Where(k => !string.IsNullOrWhiteSpace(k) && k[0] != ':' && k != "_aws");

    public static readonly Gen<string> DimensionValue = Gen.String[Gen.Char[' ', '~'], 1, 80].Where(v => !string.IsNullOrWhiteSpace(v));

    /// <summary>A JSON-compatible property value: strings with any code unit, numbers, booleans, null, nested objects and lists.</summary>
    public static readonly Gen<object?> PropertyValue = Gen.Recursive<object?>((depth, self) =>
    {
        var leaf = Gen.OneOf<object?>(
            AnyText(0, 30).Select(s => (object?)s),
            Gen.Long.Select(l => (object?)l),
            Gen.Double[-1e15, 1e15].Select(d => (object?)d),
            Gen.Bool.Select(b => (object?)b),
            Gen.Const((object?)null!));
        if (depth >= 2)
        {
            return leaf;
        }

        return Gen.Frequency(
            (6, leaf),
            (1, Gen.Dictionary(UnicodeText(0, 10), self)[0, 4].Select(d => (object?)d.ToDictionary(p => p.Key, p => p.Value))),
            (1, self.List[0, 4].Select(l => (object?)l)));
    });

    /// <summary>
    /// A valid input with <paramref name="minUsage"/> to <paramref name="maxUsage"/> usage keys.
    /// </summary>
    public static Gen<EmfInput> Input(long nowMs, int minUsage = 1, int maxUsage = 100) =>
        from ns in Namespace
        from keyPool in DimensionKey.HashSet[0, 8]
        from setShapes in Gen.Int[0, 8].Array[0, 4].Array[0, 3]
        from values in DimensionValue.Array[8]
        from propertyNames in UnicodeText(0, 20).HashSet[0, 5]
        from propertyValues in PropertyValue.Array[5]
        from metricNames in UnicodeText(1, 30).Where(n => n.Length <= 255).HashSet[minUsage, maxUsage]
        from counts in Gen.Long[0, long.MaxValue].Array[maxUsage]
        from offsetMs in Gen.Long[-(long)TimeSpan.FromDays(14).TotalMilliseconds, (long)TimeSpan.FromHours(2).TotalMilliseconds]
        select Make(ns, keyPool.ToArray(), setShapes, values, propertyNames.ToArray(), propertyValues, metricNames.ToArray(), counts, nowMs + offsetMs);

    private static EmfInput Make(
        string ns, string[] keyPool, int[][] setShapes, string[] values, string[] propertyNames, object?[] propertyValues,
        string[] metricNames, long[] counts, long timestampMs)
    {
        var sets = new List<IReadOnlyList<string>>();
        if (keyPool.Length > 0)
        {
            foreach (var shape in setShapes)
            {
                sets.Add(shape.Select(i => keyPool[i % keyPool.Length]).Distinct().ToArray());
            }
        }

        var declared = sets.SelectMany(s => s).Distinct().ToList();
        var dimensionValues = declared.Select((k, i) => (k, i)).ToDictionary(p => p.k, p => values[p.i % values.Length]);
        var properties = new Dictionary<string, object?>();
        for (var i = 0; i < propertyNames.Length; i++)
        {
            var name = propertyNames[i];
            if (name != "_aws" && !declared.Contains(name) && !metricNames.Contains(name))
            {
                properties[name] = propertyValues[i];
            }
        }

        var usage = new Dictionary<string, long>();
        for (var i = 0; i < metricNames.Length; i++)
        {
            var name = metricNames[i];
            if (name != "_aws" && !declared.Contains(name))
            {
                usage[name] = counts[i];
            }
        }

        if (usage.Count == 0)
        {
            usage["fallbackTokens"] = 1;
        }

        return new EmfInput(ns, sets, dimensionValues, properties, usage, timestampMs);
    }

    public static string Describe(string text) =>
        string.Concat(text.Select(c => c is >= ' ' and <= '~' ? c.ToString() : $"\\u{(int)c:x4}"));

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
