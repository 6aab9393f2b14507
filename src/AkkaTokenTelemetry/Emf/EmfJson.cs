using System.Collections;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// How this library writes JSON: compact, UTF-8, and escaping only what JSON requires (quotes, backslash, control
/// characters), so that non-ASCII text arrives as the same characters. A lone UTF-16 surrogate, which no UTF-8 text
/// can hold, is written as U+FFFD.
/// </summary>
internal static class EmfJson
{
    private const int MaxDepth = 64;

    /// <summary>Writer options for every EMF line.</summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>Writer options for text sinks that cannot carry non-ASCII (a console whose code page is not Unicode).</summary>
    public static readonly JsonWriterOptions AsciiWriterOptions = new()
    {
        Encoder = JavaScriptEncoder.Default,
        Indented = false,
    };

    /// <summary>Serializer options equivalent to <see cref="WriterOptions"/>, for <see cref="JsonNode.ToJsonString"/>.</summary>
    public static readonly JsonSerializerOptions SerializerOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    /// <summary>
    /// Converts an extra-property value to a JSON node owned by the caller. Accepted: null, strings, booleans, chars,
    /// integers, finite floating-point numbers, decimals, enums (by name), <see cref="Guid"/>, dates and times
    /// (ISO 8601), <see cref="JsonNode"/>, <see cref="JsonElement"/>, dictionaries with string keys, and sequences
    /// of any of these. Anything else is a configuration error: EMF properties must be plain JSON.
    /// </summary>
    public static JsonNode? ToNode(object? value, string field) => ToNode(value, field, 0);

    private static JsonNode? ToNode(object? value, string field, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new EmfValidationException(field, null, $"a property value nests deeper than {MaxDepth} levels (or refers to itself)");
        }

        switch (value)
        {
            case null:
                return null;
            case string s:
                return JsonValue.Create(s);
            case bool b:
                return JsonValue.Create(b);
            case char c:
                return JsonValue.Create(c.ToString());
            case int i:
                return JsonValue.Create(i);
            case long l:
                return JsonValue.Create(l);
            case short sh:
                return JsonValue.Create(sh);
            case byte by:
                return JsonValue.Create(by);
            case sbyte sb:
                return JsonValue.Create(sb);
            case uint ui:
                return JsonValue.Create(ui);
            case ulong ul:
                return JsonValue.Create(ul);
            case ushort us:
                return JsonValue.Create(us);
            case double d:
                return double.IsFinite(d) ? JsonValue.Create(d) : throw NotFinite(field, d.ToString(CultureInfo.InvariantCulture));
            case float f:
                return float.IsFinite(f) ? JsonValue.Create(f) : throw NotFinite(field, f.ToString(CultureInfo.InvariantCulture));
            case decimal m:
                return JsonValue.Create(m);
            case Enum e:
                return JsonValue.Create(e.ToString());
            case Guid g:
                return JsonValue.Create(g.ToString("D"));
            case DateTimeOffset dto:
                return JsonValue.Create(dto.ToString("O", CultureInfo.InvariantCulture));
            case DateTime dt:
                return JsonValue.Create(dt.ToString("O", CultureInfo.InvariantCulture));
            case TimeSpan ts:
                return JsonValue.Create(ts.ToString("c", CultureInfo.InvariantCulture));
            case JsonNode node:
                return node.DeepClone();
            case JsonElement element:
                return element.ValueKind is JsonValueKind.Undefined ? null : JsonNode.Parse(element.GetRawText());
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                return ToObject(pairs, field, depth);
            case IDictionary dictionary:
                var obj = new JsonObject();
                foreach (DictionaryEntry entry in dictionary)
                {
                    if (entry.Key is not string key)
                    {
                        throw new EmfValidationException(field, entry.Key?.ToString(), "a nested object's keys must be strings");
                    }

                    obj[key] = ToNode(entry.Value, $"{field}[\"{key}\"]", depth + 1);
                }

                return obj;
            case IEnumerable sequence:
                var array = new JsonArray();
                var index = 0;
                foreach (var item in sequence)
                {
                    array.Add(ToNode(item, $"{field}[{index++}]", depth + 1));
                }

                return array;
            default:
                throw new EmfValidationException(
                    field,
                    value.GetType().FullName,
                    "a property value must be plain JSON: string, number, bool, null, JsonNode, JsonElement, or a dictionary or list of those");
        }
    }

    private static JsonObject ToObject(IEnumerable<KeyValuePair<string, object?>> pairs, string field, int depth)
    {
        var obj = new JsonObject();
        foreach (var (key, item) in pairs)
        {
            if (key is null)
            {
                throw new EmfValidationException(field, null, "a nested object's keys must not be null");
            }

            obj[key] = ToNode(item, $"{field}[\"{key}\"]", depth + 1);
        }

        return obj;
    }

    private static EmfValidationException NotFinite(string field, string text) =>
        new(field, text, "JSON has no NaN or infinity; a property number must be finite");
}
