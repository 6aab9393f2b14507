using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>
/// An independent checker of the EMF rules in emf-facts.md. It shares no code with the library on purpose, so a
/// bug in the library's own rules cannot hide here.
/// </summary>
public static class EmfAssert
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Checks that the bytes are one EMF line (optionally ending in one '\n') and returns the parsed event.</summary>
    public static JsonObject ValidLine(ReadOnlySpan<byte> line, long? nowMs = null)
    {
        if (line.Length > 0 && line[^1] == (byte)'\n')
        {
            line = line[..^1];
        }

        Assert.True(line.IndexOf((byte)'\n') < 0, "an EMF event is one line: no raw newline inside");
        Assert.True(line.IndexOf((byte)'\r') < 0, "an EMF event holds no raw carriage return");
        var text = StrictUtf8.GetString(line); // throws on invalid UTF-8
        return ValidLine(text, nowMs);
    }

    /// <summary>Checks that the text is one EMF line and returns the parsed event.</summary>
    public static JsonObject ValidLine(string text, long? nowMs = null)
    {
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }

        Assert.DoesNotContain('\n', text);
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal('{', text[0]);
        Assert.Equal('}', text[^1]);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"not valid JSON ({e.Message}): {Cut(text)}");
        }

        var root = Assert.IsType<JsonObject>(node);
        AssertUniqueMembers(text);
        Valid(root, nowMs);
        return root;
    }

    /// <summary>Checks a parsed event against every rule of one EMF event.</summary>
    public static void Valid(JsonObject root, long? nowMs = null)
    {
        var aws = Assert.IsType<JsonObject>(root["_aws"]);
        var timestamp = Assert.IsAssignableFrom<JsonValue>(aws["Timestamp"]);
        Assert.Equal(JsonValueKind.Number, timestamp.GetValueKind());
        Assert.True(timestamp.TryGetValue<long>(out var ts), "Timestamp is an integer (epoch milliseconds)");
        if (nowMs is { } now)
        {
            Assert.InRange(ts, now - TimeSpan.FromDays(14).TotalMilliseconds, now + TimeSpan.FromHours(2).TotalMilliseconds);
        }
        else
        {
            Assert.True(ts > 1_000_000_000_000, "Timestamp is in milliseconds");
        }

        var directives = Assert.IsType<JsonArray>(aws["CloudWatchMetrics"]);
        Assert.NotEmpty(directives);
        foreach (var directiveNode in directives)
        {
            var directive = Assert.IsType<JsonObject>(directiveNode);
            var ns = directive["Namespace"]!.GetValue<string>();
            Assert.InRange(ns.Length, 1, 255);
            Assert.All(ns, c => Assert.True(char.IsAsciiLetterOrDigit(c) || "._-/#: ".Contains(c), $"namespace char {c}"));
            Assert.False(ns.StartsWith("AWS/", StringComparison.Ordinal));

            var sets = Assert.IsType<JsonArray>(directive["Dimensions"]);
            Assert.NotEmpty(sets); // "no dimensions" is [[]], never []
            foreach (var setNode in sets)
            {
                var set = Assert.IsType<JsonArray>(setNode);
                Assert.True(set.Count <= 30, "at most 30 keys per dimension set");
                foreach (var keyNode in set)
                {
                    var key = keyNode!.GetValue<string>();
                    Assert.InRange(key.Length, 1, 250);
                    Assert.All(key, c => Assert.InRange(c, ' ', '~'));
                    Assert.False(string.IsNullOrWhiteSpace(key));
                    Assert.NotEqual(':', key[0]);
                    var value = root[key];
                    Assert.True(value is JsonValue v && v.GetValueKind() == JsonValueKind.String, $"dimension {key} is a string member of the root");
                    var text = value!.GetValue<string>();
                    Assert.InRange(text.Length, 1, 1024);
                    Assert.All(text, c => Assert.InRange(c, ' ', '~'));
                    Assert.False(string.IsNullOrWhiteSpace(text));
                }
            }

            var metrics = Assert.IsType<JsonArray>(directive["Metrics"]);
            Assert.InRange(metrics.Count, 1, 100);
            Assert.Equal(metrics.Count, metrics.Select(m => m!["Name"]!.GetValue<string>()).Distinct(StringComparer.Ordinal).Count());
            foreach (var metricNode in metrics)
            {
                var metric = Assert.IsType<JsonObject>(metricNode);
                var name = metric["Name"]!.GetValue<string>();
                Assert.InRange(name.Length, 1, 255);
                Assert.Equal("Count", metric["Unit"]!.GetValue<string>());
                if (metric["StorageResolution"] is { } resolution)
                {
                    Assert.Equal(1, resolution.GetValue<int>());
                }

                var member = root[name];
                Assert.NotNull(member);
                if (member is JsonArray values)
                {
                    Assert.InRange(values.Count, 1, 100);
                    foreach (var v in values)
                    {
                        AssertCount(v, name);
                    }
                }
                else
                {
                    AssertCount(member, name);
                }
            }
        }
    }

    /// <summary>Checks every non-empty line of a newline-delimited text and returns the events.</summary>
    public static List<JsonObject> ValidLines(string text, long? nowMs = null)
    {
        var events = new List<JsonObject>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length > 0)
            {
                events.Add(ValidLine(line, nowMs));
            }
        }

        return events;
    }

    /// <summary>No object of the line names a member twice (a duplicate metric or property would make one value win silently).</summary>
    private static void AssertUniqueMembers(string text)
    {
        using var document = JsonDocument.Parse(text);
        Check(document.RootElement);

        static void Check(JsonElement element)
        {
            if (element.ValueKind == JsonValueKind.Object)
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in element.EnumerateObject())
                {
                    Assert.True(names.Add(property.Name), $"member {property.Name} appears twice in one object");
                    Check(property.Value);
                }
            }
            else if (element.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in element.EnumerateArray())
                {
                    Check(item);
                }
            }
        }
    }

    private static void AssertCount(JsonNode? node, string name)
    {
        var value = Assert.IsAssignableFrom<JsonValue>(node);
        Assert.Equal(JsonValueKind.Number, value.GetValueKind());
        Assert.True(value.TryGetValue<long>(out var count) && count >= 0, $"metric {name} is an integer of 0 or more, got {value.ToJsonString()}");
    }

    private static string Cut(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
