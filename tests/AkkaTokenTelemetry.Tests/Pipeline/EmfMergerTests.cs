using System.Text;
using System.Text.Json.Nodes;
using Akka.Configuration;
using AkkaTokenTelemetry.Tests.Support;
using CsCheck;

namespace AkkaTokenTelemetry.Tests.Pipeline;

public class EmfMergerTests
{
    private static readonly TokenTelemetrySettings Settings = TokenTelemetrySettings.Create(Config.Empty);

    private static readonly string[] MetricPool = ["inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens", "reasoningTokens", "toolTokens"];

    /// <summary>Two hooks with the same configuration (different objects), one with another property, one with other dimension sets.</summary>
    private static readonly HookProfile[] Profiles =
    [
        HookProfile.Create(new TokenUsageHookOptions { Dimensions = [["Model"], ["Model", "Agent"]], ExtraProperties = new Dictionary<string, object?> { ["Service"] = "api" } }, Settings),
        HookProfile.Create(new TokenUsageHookOptions { Dimensions = [["Model"], ["Model", "Agent"]], ExtraProperties = new Dictionary<string, object?> { ["Service"] = "api" } }, Settings),
        HookProfile.Create(new TokenUsageHookOptions { Dimensions = [["Model"], ["Model", "Agent"]], ExtraProperties = new Dictionary<string, object?> { ["Service"] = "batch" } }, Settings),
        HookProfile.Create(new TokenUsageHookOptions { Dimensions = [["Model"]], ExtraProperties = new Dictionary<string, object?> { ["Service"] = "api" } }, Settings),
    ];

    private static readonly Gen<UsageRecord> Record =
        from profile in Gen.Int[0, Profiles.Length - 1]
        from model in Gen.Int[0, 2].Select(i => new[] { "gpt-4o", "claude", "nova" }[i])
        from agent in Gen.Int[0, 1].Select(i => new[] { "planner", "writer" }[i])
        from metrics in Gen.Int[0, MetricPool.Length - 1].HashSet[1, 4]
        from values in Gen.Long[0, 1_000_000].Array[4]
        from offsetMs in Gen.Long[0, 180_000]
        select Make(Profiles[profile], model, agent, metrics.Order().Select((m, i) => new UsageEntry(MetricPool[m], values[i])).ToArray(), EmfSamples.NowMs + offsetMs);

    private static UsageRecord Make(HookProfile profile, string model, string agent, UsageEntry[] usage, long timestampMs)
    {
        var keys = profile.Context.DimensionKeys;
        var values = keys.Select(k => k == "Model" ? model : agent).ToArray();
        return new UsageRecord(profile, values, usage, timestampMs);
    }

    private static List<JsonObject> Events(ByteBufferWriter buffer) =>
        EmfAssert.ValidLines(Encoding.UTF8.GetString(buffer.WrittenSpan), EmfSamples.NowMs);

    /// <summary>Everything an event says except its metric values and timestamp: what must not be mixed.</summary>
    private static string Signature(JsonObject e)
    {
        var directive = e["_aws"]!["CloudWatchMetrics"]![0]!;
        var metrics = directive["Metrics"]!.AsArray().Select(m => m!["Name"]!.GetValue<string>()).ToHashSet();
        var members = e.Where(p => p.Key != "_aws" && !metrics.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value!.ToJsonString()}");
        return $"{directive["Namespace"]}|{directive["Dimensions"]!.ToJsonString()}|{string.Join(",", members)}";
    }

    /// <summary>Per (signature, metric): every value, sorted.</summary>
    private static Dictionary<string, List<long>> ValuesBySignatureAndMetric(IEnumerable<JsonObject> events)
    {
        var result = new Dictionary<string, List<long>>();
        foreach (var e in events)
        {
            var signature = Signature(e);
            foreach (var metric in e["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray())
            {
                var name = metric!["Name"]!.GetValue<string>();
                var key = signature + "#" + name;
                if (!result.TryGetValue(key, out var list))
                {
                    result[key] = list = [];
                }

                if (e[name] is JsonArray array)
                {
                    list.AddRange(array.Select(v => v!.GetValue<long>()));
                }
                else
                {
                    list.Add(e[name]!.GetValue<long>());
                }
            }
        }

        foreach (var list in result.Values)
        {
            list.Sort();
        }

        return result;
    }

    [Fact]
    public void Merged_GivesTheSameValuesPerMetricAndDimensionCombination_AsUnmerged()
    {
        Record.Array[1, 400].Sample(records =>
        {
            var writer = new EmfEventWriter();
            var unmerged = new ByteBufferWriter(1024);
            foreach (var record in records)
            {
                writer.WriteRecord(unmerged, record.Profile.Context, record.DimensionValues, record.Usage, record.TimestampMs);
            }

            var merger = new EmfMerger(maxValues: 100, maxSkew: TimeSpan.FromMinutes(1));
            foreach (var record in records)
            {
                merger.Add(record);
            }

            var merged = new ByteBufferWriter(1024);
            var ends = new List<int>();
            var (events, _) = merger.WriteTo(writer, merged, ends, []);

            var mergedEvents = Events(merged); // each one valid EMF: at most 100 values and 100 metrics
            Assert.Equal(events, mergedEvents.Count);
            Assert.Equal(events, ends.Count);
            var expected = ValuesBySignatureAndMetric(Events(unmerged));
            var actual = ValuesBySignatureAndMetric(mergedEvents);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (key, values) in expected)
            {
                Assert.Equal(values, actual[key]);
            }

            Assert.True(mergedEvents.Count <= records.Length);
        }, iter: 100);
    }

    [Fact]
    public void MergedEvent_CarriesTheEarliestTimestamp_AndRecordsFurtherApartThanMaxSkewAreNotMerged()
    {
        var profile = Profiles[0];
        var usage = new[] { new UsageEntry("inputTokens", 1) };
        var merger = new EmfMerger(100, TimeSpan.FromMinutes(1));
        merger.Add(Make(profile, "m", "a", usage, EmfSamples.NowMs + 30_000));
        merger.Add(Make(profile, "m", "a", usage, EmfSamples.NowMs));
        merger.Add(Make(profile, "m", "a", usage, EmfSamples.NowMs + 60_000));
        merger.Add(Make(profile, "m", "a", usage, EmfSamples.NowMs + 60_001));

        var buffer = new ByteBufferWriter(1024);
        var (events, mergedRecords) = merger.WriteTo(new EmfEventWriter(), buffer, [], []);

        var parsed = Events(buffer);
        Assert.Equal(2, events);
        Assert.Equal(3, mergedRecords);
        Assert.Equal(EmfSamples.NowMs, parsed[0]["_aws"]!["Timestamp"]!.GetValue<long>());
        Assert.Equal(3, parsed[0]["inputTokens"]!.AsArray().Count);
        Assert.Equal(EmfSamples.NowMs + 60_001, parsed[1]["_aws"]!["Timestamp"]!.GetValue<long>());
        Assert.Equal(1, parsed[1]["inputTokens"]!.GetValue<long>());
    }

    [Fact]
    public void RecordsWithDifferentDimensionValuesOrProperties_AreNeverMerged()
    {
        var usage = new[] { new UsageEntry("inputTokens", 1) };
        var merger = new EmfMerger(100, TimeSpan.FromMinutes(1));
        merger.Add(Make(Profiles[0], "m", "a", usage, EmfSamples.NowMs));
        merger.Add(Make(Profiles[0], "m", "b", usage, EmfSamples.NowMs)); // other Agent value
        merger.Add(Make(Profiles[2], "m", "a", usage, EmfSamples.NowMs)); // other property
        merger.Add(Make(Profiles[1], "m", "a", usage, EmfSamples.NowMs)); // same as the first, other hook object

        var buffer = new ByteBufferWriter(1024);
        var (events, mergedRecords) = merger.WriteTo(new EmfEventWriter(), buffer, [], []);

        Assert.Equal(3, events);
        Assert.Equal(2, mergedRecords);
    }
}
