using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// The part of an EMF event that is fixed for one hook: namespace, dimension sets, storage resolution and extra
/// properties. Validated once when created, and pre-encoded to UTF-8 so the hot path only copies bytes.
/// Immutable and safe to share between threads.
/// </summary>
internal sealed class EmfContext
{
    private readonly Dictionary<string, int> _propertyIndex;

    private EmfContext(
        string @namespace,
        string[][] dimensionSets,
        string[] dimensionKeys,
        KeyValuePair<string, JsonNode?>[] properties,
        int storageResolution)
    {
        Namespace = @namespace;
        DimensionSets = dimensionSets;
        DimensionKeys = dimensionKeys;
        Properties = properties;
        StorageResolution = storageResolution;
        _propertyIndex = new Dictionary<string, int>(properties.Length, StringComparer.Ordinal);
        for (var i = 0; i < properties.Length; i++)
        {
            _propertyIndex[properties[i].Key] = i;
        }

        EncodedDimensionKeys = dimensionKeys.Select(EncodeString).ToArray();
        EncodedProperties = properties.Select(p => Concat(Encoding.UTF8.GetBytes(","), EncodeString(p.Key), Encoding.UTF8.GetBytes(":"), EncodeValue(p.Value))).ToArray();
        DirectiveStart = BuildDirectiveStart(@namespace, dimensionSets);
        Signature = Convert.ToBase64String(DirectiveStart) + "|" + storageResolution.ToString(System.Globalization.CultureInfo.InvariantCulture) + "|" +
            string.Join("|", EncodedProperties.Select(Convert.ToBase64String));
        SignatureHash = Signature.GetHashCode(StringComparison.Ordinal);
    }

    /// <summary>The CloudWatch namespace.</summary>
    public string Namespace { get; }

    /// <summary>The dimension sets, validated; may be empty (written <c>[[]]</c>).</summary>
    public string[][] DimensionSets { get; }

    /// <summary>The distinct dimension keys of all sets, in first-seen order: the order of dimension values everywhere.</summary>
    public string[] DimensionKeys { get; }

    /// <summary>Extra properties in the order given, values already converted to JSON.</summary>
    public KeyValuePair<string, JsonNode?>[] Properties { get; }

    /// <summary>60 (standard, omitted from the output) or 1 (high resolution).</summary>
    public int StorageResolution { get; }

    /// <summary><c>"key"</c> for each dimension key, JSON-encoded with quotes.</summary>
    internal byte[][] EncodedDimensionKeys { get; }

    /// <summary><c>,"name":value</c> for each extra property.</summary>
    internal byte[][] EncodedProperties { get; }

    /// <summary><c>,"CloudWatchMetrics":[{"Namespace":…,"Dimensions":[…],"Metrics":[</c>.</summary>
    internal byte[] DirectiveStart { get; }

    /// <summary>
    /// Namespace, dimension sets, storage resolution and extra properties as one text: two contexts with the same
    /// signature write the same events, so merge mode may put their records together.
    /// </summary>
    internal string Signature { get; }

    internal int SignatureHash { get; }

    /// <summary>Whether <paramref name="other"/> writes exactly the same static part of an event.</summary>
    public bool SameAs(EmfContext other) =>
        ReferenceEquals(this, other) || (SignatureHash == other.SignatureHash && string.Equals(Signature, other.Signature, StringComparison.Ordinal));

    /// <summary>
    /// Validates and encodes the static part of an event.
    /// </summary>
    /// <exception cref="EmfValidationException">A rule of EMF is broken; the message names field, value and rule.</exception>
    public static EmfContext Create(
        string @namespace,
        IReadOnlyList<IReadOnlyList<string>> dimensions,
        IReadOnlyDictionary<string, object?>? extraProperties,
        int storageResolution = 60,
        string propertiesField = "extraProperties")
    {
        EmfRules.ValidateNamespace(@namespace);
        var (sets, keys) = EmfRules.ValidateDimensionSets(dimensions);
        if (storageResolution is not (1 or 60))
        {
            throw new EmfValidationException("storageResolution", storageResolution.ToString(System.Globalization.CultureInfo.InvariantCulture), "storage resolution is 60 (standard) or 1 (high resolution)");
        }

        var properties = new List<KeyValuePair<string, JsonNode?>>();
        if (extraProperties is not null)
        {
            foreach (var (name, value) in extraProperties)
            {
                var field = $"{propertiesField}[\"{name}\"]";
                EmfRules.ValidatePropertyName(name, field);
                if (Array.IndexOf(keys, name) >= 0)
                {
                    throw new EmfValidationException(field, name, "an extra property cannot have the name of a dimension key (the dimension value would be lost)");
                }

                properties.Add(new(name, EmfJson.ToNode(value, field)));
            }
        }

        return new EmfContext(@namespace, sets, keys, properties.ToArray(), storageResolution);
    }

    /// <summary>Whether an extra property has this name.</summary>
    public bool HasProperty(string name) => _propertyIndex.ContainsKey(name);

    /// <summary>The index of the dimension key, or -1.</summary>
    public int IndexOfDimensionKey(string key) => Array.IndexOf(DimensionKeys, key);

    internal static byte[] EncodeString(string value)
    {
        var buffer = new ArrayBufferWriter<byte>(value.Length + 8);
        using (var writer = new Utf8JsonWriter(buffer, EmfJson.WriterOptions))
        {
            writer.WriteStringValue(value);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] EncodeValue(JsonNode? value)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, EmfJson.WriterOptions))
        {
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                value.WriteTo(writer);
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] BuildDirectiveStart(string @namespace, string[][] sets)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Append(buffer, ",\"CloudWatchMetrics\":[{\"Namespace\":"u8);
        Append(buffer, EncodeString(@namespace));
        Append(buffer, ",\"Dimensions\":["u8);
        if (sets.Length == 0)
        {
            Append(buffer, "[]"u8);
        }

        for (var i = 0; i < sets.Length; i++)
        {
            if (i > 0)
            {
                Append(buffer, ","u8);
            }

            Append(buffer, "["u8);
            for (var j = 0; j < sets[i].Length; j++)
            {
                if (j > 0)
                {
                    Append(buffer, ","u8);
                }

                Append(buffer, EncodeString(sets[i][j]));
            }

            Append(buffer, "]"u8);
        }

        Append(buffer, "],\"Metrics\":["u8);
        return buffer.WrittenSpan.ToArray();
    }

    internal static void Append(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> bytes) => buffer.Write(bytes);

    private static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        var offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }

        return result;
    }
}
