using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Emf;

public class EmfPayloadTests
{
    private static JsonObject Build(
        IReadOnlyDictionary<string, long>? usage = null,
        string @namespace = EmfSamples.Namespace,
        IReadOnlyList<IReadOnlyList<string>>? dimensions = null,
        IReadOnlyDictionary<string, string>? dimensionValues = null,
        IReadOnlyDictionary<string, object?>? extraProperties = null,
        long? timestampMs = null) =>
        EmfPayload.Build(
            usage ?? EmfSamples.Usage,
            @namespace,
            dimensions ?? EmfSamples.Dimensions,
            dimensionValues ?? EmfSamples.DimensionValues,
            extraProperties,
            timestampMs ?? EmfSamples.NowMs,
            EmfSamples.Clock());

    private static EmfValidationException Refused(Func<object> build) => Assert.Throws<EmfValidationException>(build);

    private static IReadOnlyList<IReadOnlyList<string>> OneSet(params string[] keys) => [keys];

    private static Dictionary<string, string> ValuesFor(IEnumerable<string> keys, string value = "v") => keys.ToDictionary(k => k, _ => value);

    [Fact]
    public void Build_StandardInput_HasTheSeedShape()
    {
        var payload = Build(extraProperties: EmfSamples.ExtraProperties);

        EmfAssert.Valid(payload, EmfSamples.NowMs);
        var aws = payload["_aws"]!.AsObject();
        Assert.Equal(EmfSamples.NowMs, aws["Timestamp"]!.GetValue<long>());
        var directive = aws["CloudWatchMetrics"]!.AsArray().Single()!.AsObject();
        Assert.Equal(EmfSamples.Namespace, directive["Namespace"]!.GetValue<string>());
        Assert.Equal("""[["Model"],["Model","Agent"]]""", directive["Dimensions"]!.ToJsonString());
        Assert.Equal(EmfSamples.Usage.Keys, directive["Metrics"]!.AsArray().Select(m => m!["Name"]!.GetValue<string>()));
        Assert.Equal("research-agent", payload["Agent"]!.GetValue<string>());
        Assert.Equal("user-12345", payload["UserId"]!.GetValue<string>());
        foreach (var (name, value) in EmfSamples.Usage)
        {
            Assert.Equal(value, payload[name]!.GetValue<long>());
        }

        Assert.Equal(["_aws", "Model", "Agent", "UserId", "SessionId", .. EmfSamples.Usage.Keys], payload.Select(p => p.Key));
    }

    [Fact]
    public void Build_EveryMetric_HasUnitCount()
    {
        var metrics = Build()["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray();
        Assert.All(metrics, m => Assert.Equal("Count", m!["Unit"]!.GetValue<string>()));
        Assert.All(metrics, m => Assert.Null(m!["StorageResolution"]));
    }

    [Fact]
    public void Build_NoDimensions_WritesOneEmptySet()
    {
        var payload = Build(dimensions: [], dimensionValues: new Dictionary<string, string>());
        Assert.Equal("[[]]", payload["_aws"]!["CloudWatchMetrics"]![0]!["Dimensions"]!.ToJsonString());
        EmfAssert.Valid(payload);
    }

    [Fact]
    public void Build_TimestampDefaultsToNow()
    {
        var payload = EmfPayload.Build(EmfSamples.Usage, EmfSamples.Namespace, EmfSamples.Dimensions, EmfSamples.DimensionValues, null, null, EmfSamples.Clock());
        Assert.Equal(EmfSamples.NowMs, payload["_aws"]!["Timestamp"]!.GetValue<long>());
    }

    [Fact]
    public void Build_PublicOverloadUsesTheSystemClock()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var payload = EmfPayload.Build(EmfSamples.Usage, EmfSamples.Namespace, EmfSamples.Dimensions, EmfSamples.DimensionValues);
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.InRange(payload["_aws"]!["Timestamp"]!.GetValue<long>(), before, after);
    }

    [Fact]
    public void DimensionSet_30KeysAccepted_31Refused()
    {
        var keys30 = Enumerable.Range(0, 30).Select(i => $"K{i}").ToArray();
        EmfAssert.Valid(Build(dimensions: OneSet(keys30), dimensionValues: ValuesFor(keys30)));

        var keys31 = Enumerable.Range(0, 31).Select(i => $"K{i}").ToArray();
        var e = Refused(() => Build(dimensions: OneSet(keys31), dimensionValues: ValuesFor(keys31)));
        Assert.Equal("dimensions[0]", e.Field);
        Assert.Contains("at most 30 keys", e.Message);
        Assert.Contains("31", e.Message);
    }

    [Fact]
    public void DimensionValue_1024CharsAccepted_1025Refused()
    {
        var ok = Build(dimensionValues: new Dictionary<string, string> { ["Model"] = new('m', 1024), ["Agent"] = "a" });
        Assert.Equal(1024, ok["Model"]!.GetValue<string>().Length);

        var e = Refused(() => Build(dimensionValues: new Dictionary<string, string> { ["Model"] = new('m', 1025), ["Agent"] = "a" }));
        Assert.Equal("dimensionValues[\"Model\"]", e.Field);
        Assert.Contains("1024", e.Message);
        Assert.Contains("1025 chars", e.Message); // the value is quoted cut, with its length
        Assert.True(e.Message.Length < 400, "the offending value is cut to a readable length");
    }

    [Fact]
    public void DimensionKey_250CharsAccepted_251Refused()
    {
        var key250 = new string('k', 250);
        EmfAssert.Valid(Build(dimensions: OneSet(key250), dimensionValues: ValuesFor([key250])));

        var key251 = new string('k', 251);
        var e = Refused(() => Build(dimensions: OneSet(key251), dimensionValues: ValuesFor([key251])));
        Assert.Equal("dimensions[0][0]", e.Field);
        Assert.Contains("250", e.Message);
    }

    [Theory]
    [InlineData(":Model", "must not start with ':'")]
    [InlineData("   ", "only spaces")]
    [InlineData("", "1 to 250")]
    [InlineData("Modèle", "printable ASCII")]
    [InlineData("Mo\tdel", "printable ASCII")]
    [InlineData("_aws", "reserved")]
    public void DimensionKey_BreakingARule_IsRefusedWithTheRule(string key, string rule)
    {
        var e = Refused(() => Build(dimensions: OneSet(key), dimensionValues: ValuesFor([key])));
        Assert.Contains(rule, e.Message);
    }

    [Fact]
    public void NamesWithALoneSurrogate_AreRefused_TheirUtf8FormWouldCollideWithAnotherName()
    {
        // "lone\uD800" and "lone\uFFFD" would both be written as "lone\uFFFD": one event, two members of one name.
        var metric = Refused(() => Build(usage: new Dictionary<string, long> { ["lone\uD800"] = 1, ["lone\uFFFD"] = 2 }));
        Assert.Contains("lone UTF-16 surrogate", metric.Message);
        var property = Refused(() => Build(usage: new Dictionary<string, long> { ["lone\uFFFD"] = 2 }, extraProperties: new Dictionary<string, object?> { ["lone\uDC00"] = "x" }));
        Assert.Contains("lone UTF-16 surrogate", property.Message);
    }

    [Fact]
    public void DimensionKey_TwiceInOneSet_IsRefused()
    {
        var e = Refused(() => Build(dimensions: OneSet("Model", "Model"), dimensionValues: ValuesFor(["Model"])));
        Assert.Contains("only once", e.Message);
    }

    [Fact]
    public void Namespace_255CharsAccepted_256Refused()
    {
        EmfAssert.Valid(Build(@namespace: new string('n', 255)));
        var e = Refused(() => Build(@namespace: new string('n', 256)));
        Assert.Equal("namespace", e.Field);
        Assert.Contains("255", e.Message);
    }

    [Fact]
    public void Namespace_AwsPrefixRefused_SpaceAllowed()
    {
        var e = Refused(() => Build(@namespace: "AWS/Bedrock"));
        Assert.Contains("AWS/", e.Rule);

        var payload = Build(@namespace: "Acme Inc/Agent Tokens");
        Assert.Equal("Acme Inc/Agent Tokens", payload["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
        EmfAssert.Valid(payload);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Acme*Tokens")]
    [InlineData("Acmé/Tokens")]
    [InlineData("Acme\nTokens")]
    public void Namespace_OutsideTheAllowedCharacters_IsRefused(string @namespace)
    {
        var e = Refused(() => Build(@namespace: @namespace));
        Assert.Equal("namespace", e.Field);
    }

    [Fact]
    public void Usage_100KeysAccepted_101Refused()
    {
        var usage100 = Enumerable.Range(0, 100).ToDictionary(i => $"m{i}", i => (long)i);
        var payload = Build(usage: usage100);
        Assert.Equal(100, payload["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray().Count);

        var usage101 = Enumerable.Range(0, 101).ToDictionary(i => $"m{i}", i => (long)i);
        var e = Refused(() => Build(usage: usage101));
        Assert.Equal("usage", e.Field);
        Assert.Contains("at most 100 metrics", e.Message);
    }

    [Fact]
    public void Usage_Empty_IsRefused()
    {
        var e = Refused(() => Build(usage: new Dictionary<string, long>()));
        Assert.Equal("usage", e.Field);
    }

    [Fact]
    public void Usage_NegativeCount_IsRefusedNamingTheKey()
    {
        var e = Refused(() => Build(usage: new Dictionary<string, long> { ["inputTokens"] = 10, ["outputTokens"] = -1 }));
        Assert.Equal("usage[\"outputTokens\"]", e.Field);
        Assert.Equal("-1", e.Value);
        Assert.Contains("0 or more", e.Message);
    }

    [Fact]
    public void Usage_ZeroAndLargeCounts_AreKept()
    {
        var payload = Build(usage: new Dictionary<string, long> { ["a"] = 0, ["b"] = long.MaxValue });
        Assert.Equal(0, payload["a"]!.GetValue<long>());
        Assert.Equal(long.MaxValue, payload["b"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("Model", "dimension key")]
    [InlineData("_aws", "reserved")]
    [InlineData("", "1 to 255")]
    public void Usage_KeyBreakingARule_IsRefused(string key, string rule)
    {
        var e = Refused(() => Build(usage: new Dictionary<string, long> { [key] = 1 }));
        Assert.Contains(rule, e.Message);
    }

    [Fact]
    public void Usage_KeyOf256Chars_IsRefused()
    {
        Build(usage: new Dictionary<string, long> { [new string('x', 255)] = 1 });
        var e = Refused(() => Build(usage: new Dictionary<string, long> { [new string('x', 256)] = 1 }));
        Assert.Contains("255", e.Message);
    }

    [Fact]
    public void Timestamp_14DaysOldAccepted_OlderRefused()
    {
        var oldest = EmfSamples.NowMs - (long)TimeSpan.FromDays(14).TotalMilliseconds;
        Assert.Equal(oldest, Build(timestampMs: oldest)["_aws"]!["Timestamp"]!.GetValue<long>());

        var e = Refused(() => Build(timestampMs: oldest - 1));
        Assert.Equal("timestampMs", e.Field);
        Assert.Contains("14 days", e.Message);
    }

    [Fact]
    public void Timestamp_2HoursAheadAccepted_FurtherRefused()
    {
        var newest = EmfSamples.NowMs + (long)TimeSpan.FromHours(2).TotalMilliseconds;
        Assert.Equal(newest, Build(timestampMs: newest)["_aws"]!["Timestamp"]!.GetValue<long>());

        var e = Refused(() => Build(timestampMs: newest + 1));
        Assert.Contains("2 hours", e.Message);
    }

    [Fact]
    public void Timestamp_InSecondsInsteadOfMilliseconds_IsRefusedSayingSo()
    {
        var seconds = EmfSamples.Now.ToUnixTimeSeconds();
        var e = Refused(() => Build(timestampMs: seconds));
        Assert.Equal("timestampMs", e.Field);
        Assert.Contains("seconds", e.Message);
        Assert.Contains("milliseconds", e.Message);
    }

    [Fact]
    public void ExtraProperty_NamedAws_IsRefused()
    {
        var e = Refused(() => Build(extraProperties: new Dictionary<string, object?> { ["_aws"] = "x" }));
        Assert.Equal("extraProperties[\"_aws\"]", e.Field);
        Assert.Contains("reserved", e.Message);
    }

    [Fact]
    public void ExtraProperty_EqualToADimensionKey_IsRefused()
    {
        var e = Refused(() => Build(extraProperties: new Dictionary<string, object?> { ["Agent"] = "other" }));
        Assert.Equal("extraProperties[\"Agent\"]", e.Field);
        Assert.Contains("dimension key", e.Message);
    }

    [Fact]
    public void ExtraProperty_EqualToAUsageKey_IsRefused()
    {
        var e = Refused(() => Build(extraProperties: new Dictionary<string, object?> { ["inputTokens"] = 1 }));
        Assert.Contains("usage key", e.Message);
    }

    [Fact]
    public void DimensionValues_KeyNoSetDeclares_IsRefused()
    {
        var values = new Dictionary<string, string>(EmfSamples.DimensionValues) { ["Environment"] = "prod" };
        var e = Refused(() => Build(dimensionValues: values));
        Assert.Equal("dimensionValues[\"Environment\"]", e.Field);
        Assert.Contains("declared", e.Message);
    }

    [Fact]
    public void DimensionValues_DeclaredKeyWithoutValue_IsRefused()
    {
        var e = Refused(() => Build(dimensionValues: new Dictionary<string, string> { ["Model"] = "m" }));
        Assert.Equal("dimensionValues[\"Agent\"]", e.Field);
    }

    [Theory]
    [InlineData("   ")]
    [InlineData("")]
    [InlineData("gpt\n4")]
    [InlineData("東京")]
    public void DimensionValue_BreakingARule_IsRefused(string value)
    {
        var e = Refused(() => Build(dimensionValues: new Dictionary<string, string> { ["Model"] = value, ["Agent"] = "a" }));
        Assert.Equal("dimensionValues[\"Model\"]", e.Field);
    }

    [Fact]
    public void ExtraProperty_NotFiniteNumber_IsRefused()
    {
        var e = Refused(() => Build(extraProperties: new Dictionary<string, object?> { ["Score"] = double.NaN }));
        Assert.Contains("finite", e.Message);
    }

    [Fact]
    public void ExtraProperty_OfAnArbitraryType_IsRefusedNamingTheType()
    {
        var e = Refused(() => Build(extraProperties: new Dictionary<string, object?> { ["Thing"] = new Uri("https://example.com") }));
        Assert.Contains("System.Uri", e.Message);
        Assert.Contains("plain JSON", e.Message);
    }

    [Fact]
    public void ExtraProperty_NestedJson_IsKept()
    {
        var payload = Build(extraProperties: new Dictionary<string, object?>
        {
            ["Trace"] = new Dictionary<string, object?> { ["TraceId"] = "abc", ["Spans"] = new[] { 1, 2, 3 } },
            ["Flag"] = true,
            ["Missing"] = null,
            ["Node"] = JsonNode.Parse("""{"a":[1,{"b":null}]}"""),
            ["When"] = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
        });

        Assert.Equal("""{"TraceId":"abc","Spans":[1,2,3]}""", payload["Trace"]!.ToJsonString());
        Assert.True(payload["Flag"]!.GetValue<bool>());
        Assert.True(payload.ContainsKey("Missing"));
        Assert.Null(payload["Missing"]);
        Assert.Equal("""{"a":[1,{"b":null}]}""", payload["Node"]!.ToJsonString());
        Assert.Equal("2026-01-02T03:04:05.0000000+00:00", payload["When"]!.GetValue<string>());
    }

    [Fact]
    public void Build_IsPure_SameInputGivesEqualOutputAndInputsAreNotShared()
    {
        var node = JsonNode.Parse("""{"a":1}""")!;
        var properties = new Dictionary<string, object?> { ["Node"] = node };
        var first = Build(extraProperties: properties);
        var second = Build(extraProperties: properties);
        Assert.True(JsonNode.DeepEquals(first, second));
        first["Node"]!["a"] = 2;
        Assert.Equal(1, second["Node"]!["a"]!.GetValue<int>());
        Assert.Equal(1, node["a"]!.GetValue<int>());
    }

    [Fact]
    public void EmfValidationException_IsAnArgumentExceptionNamingFieldValueAndRule()
    {
        var e = Refused(() => Build(@namespace: "AWS/Custom"));
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Equal("namespace", e.ParamName);
        Assert.Equal("AWS/Custom", e.Value);
        Assert.Contains("namespace", e.Message);
        Assert.Contains("\"AWS/Custom\"", e.Message);
        Assert.Contains(e.Rule, e.Message);
        Assert.DoesNotContain("(Parameter", e.Message); // the field is named once, at the start
    }
}
