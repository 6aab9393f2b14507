using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// Prepares the events of a batch for one transport: adds <c>_aws.LogGroupName</c>/<c>LogStreamName</c> when the
/// transport needs them, and keeps every event within the transport's size limit. An event over the limit first
/// loses its extra properties, largest first (the metrics, dimensions and <c>_aws</c> are never cut); one that
/// still does not fit is left out and counted as <see cref="DropReasons.TooLarge"/>.
/// </summary>
internal sealed class EmfLineShaper
{
    /// <summary>CloudWatch Logs' largest event (stdout, files, HTTP, logging): 1 MiB.</summary>
    public const int MaxLogEventBytes = 1024 * 1024;

    /// <summary>The CloudWatch agent's largest EMF event over TCP: 256 KiB.</summary>
    public const int MaxAgentEventBytes = 256 * 1024;

    /// <summary>The largest UDP payload over IPv4: 65,507 bytes.</summary>
    public const int MaxDatagramBytes = 65_507;

    private static ReadOnlySpan<byte> AwsHead => "{\"_aws\":{"u8;

    private readonly byte[] _insert;
    private readonly string? _logGroupName;
    private readonly string? _logStreamName;

    /// <summary>A shaper that keeps events within <paramref name="maxEventBytes"/> and adds the given log group and stream, if any.</summary>
    public EmfLineShaper(int maxEventBytes, string? logGroupName = null, string? logStreamName = null)
    {
        MaxEventBytes = maxEventBytes;
        _logGroupName = string.IsNullOrEmpty(logGroupName) ? null : logGroupName;
        _logStreamName = string.IsNullOrEmpty(logStreamName) ? null : logStreamName;
        // The members to add right after {"_aws":{ — written by the JSON writer, so escaped as every other string.
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, EmfJson.WriterOptions))
        {
            writer.WriteStartObject();
            if (_logGroupName is not null)
            {
                writer.WriteString("LogGroupName", _logGroupName);
            }

            if (_logStreamName is not null)
            {
                writer.WriteString("LogStreamName", _logStreamName);
            }

            writer.WriteEndObject();
        }

        // {"LogGroupName":"g"} → "LogGroupName":"g",
        _insert = buffer.WrittenCount > 2 ? [.. buffer.WrittenSpan[1..^1], (byte)','] : [];
    }

    /// <summary>The longest line (without its newline) this shaper lets through.</summary>
    public int MaxEventBytes { get; }

    /// <summary>True when the batch can go out exactly as it is: nothing to add, and no event can be over the limit.</summary>
    public bool PassesUnchanged(EmfBatch batch) => _insert.Length == 0 && batch.Length <= MaxEventBytes;

    /// <summary>
    /// Every event of <paramref name="batch"/>, shaped, one line each: the batch's own memory when it passes
    /// unchanged, else lines written into <paramref name="scratch"/> (valid until its next use).
    /// </summary>
    public ReadOnlyMemory<byte> Shape(EmfBatch batch, ArrayBufferWriter<byte> scratch, EmitterContext context)
    {
        if (PassesUnchanged(batch))
        {
            return batch.Utf8Lines;
        }

        scratch.ResetWrittenCount();
        for (var i = 0; i < batch.Count; i++)
        {
            WriteLine(batch.GetEvent(i).Span, scratch, context);
        }

        return scratch.WrittenMemory;
    }

    /// <summary>
    /// Writes one event and its newline to <paramref name="output"/>, shaped for the transport; returns false (and
    /// reports it to <paramref name="context"/>) when it cannot fit even without its extra properties.
    /// </summary>
    public bool WriteLine(ReadOnlySpan<byte> evt, IBufferWriter<byte> output, EmitterContext context)
    {
        if (evt.Length + _insert.Length <= MaxEventBytes && (_insert.Length == 0 || evt.StartsWith(AwsHead)))
        {
            if (_insert.Length == 0)
            {
                output.Write(evt);
            }
            else
            {
                output.Write(AwsHead);
                output.Write(_insert);
                output.Write(evt[AwsHead.Length..]);
            }

            output.Write("\n"u8);
            return true;
        }

        return WriteSlow(evt, output, context);
    }

    private bool WriteSlow(ReadOnlySpan<byte> evt, IBufferWriter<byte> output, EmitterContext context)
    {
        JsonNode? parsed;
        try
        {
            // Extra properties may nest 64 levels below the root.
            parsed = JsonNode.Parse(evt, documentOptions: new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException)
        {
            parsed = null;
        }

        if (parsed is not JsonObject root || root["_aws"] is not JsonObject aws)
        {
            // Our own writer never makes such an event; refuse to pass on something that is not EMF.
            context.EventTooLarge(1, evt.Length, MaxEventBytes);
            return false;
        }

        if (_logGroupName is not null)
        {
            aws["LogGroupName"] = _logGroupName;
        }

        if (_logStreamName is not null)
        {
            aws["LogStreamName"] = _logStreamName;
        }

        var bytes = Serialize(root);
        if (bytes.Length > MaxEventBytes)
        {
            var original = bytes.Length;
            var reserved = ReservedMembers(aws);
            var candidates = root
                .Where(p => !reserved.Contains(p.Key))
                .Select(p => (p.Key, Size: Encoding.UTF8.GetByteCount(p.Key) + (p.Value is null ? 4 : Serialize(p.Value).Length)))
                .OrderByDescending(p => p.Size)
                .ToList();
            foreach (var (key, _) in candidates)
            {
                root.Remove(key);
                bytes = Serialize(root);
                if (bytes.Length <= MaxEventBytes)
                {
                    break;
                }
            }

            if (bytes.Length > MaxEventBytes)
            {
                context.EventTooLarge(RecordsIn(aws, root), original, MaxEventBytes);
                return false;
            }

            context.PropertiesTrimmed(original, MaxEventBytes);
        }

        output.Write(bytes);
        output.Write("\n"u8);
        return true;
    }

    private static byte[] Serialize(JsonNode node)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, EmfJson.WriterOptions))
        {
            node.WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The members that make the event EMF: <c>_aws</c>, every dimension key and every metric name.</summary>
    private static HashSet<string> ReservedMembers(JsonObject aws)
    {
        var reserved = new HashSet<string>(StringComparer.Ordinal) { "_aws" };
        if (aws["CloudWatchMetrics"] is JsonArray directives)
        {
            foreach (var directive in directives.OfType<JsonObject>())
            {
                if (directive["Dimensions"] is JsonArray sets)
                {
                    foreach (var key in sets.OfType<JsonArray>().SelectMany(s => s).OfType<JsonValue>())
                    {
                        reserved.Add(key.GetValue<string>());
                    }
                }

                if (directive["Metrics"] is JsonArray metrics)
                {
                    foreach (var name in metrics.OfType<JsonObject>().Select(m => m["Name"]).OfType<JsonValue>())
                    {
                        reserved.Add(name.GetValue<string>());
                    }
                }
            }
        }

        return reserved;
    }

    /// <summary>How many records an event holds: the length of its metric arrays in merge mode, else one.</summary>
    private static int RecordsIn(JsonObject aws, JsonObject root)
    {
        var first = (aws["CloudWatchMetrics"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault()?["Metrics"] as JsonArray;
        var name = (first?.FirstOrDefault() as JsonObject)?["Name"]?.GetValue<string>();
        return name is not null && root[name] is JsonArray values ? Math.Max(1, values.Count) : 1;
    }
}
