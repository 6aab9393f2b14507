using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;
using CsCheck;

namespace AkkaTokenTelemetry.Tests.Emf;

public class EmfEventWriterTests
{
    private static EmfContext StandardContext() =>
        EmfContext.Create(EmfSamples.Namespace, EmfSamples.Dimensions, EmfSamples.ExtraProperties);

    private static string[] StandardValues(EmfContext context) =>
        EmfPayload.ResolveDimensionValues(context, EmfSamples.DimensionValues);

    private static UsageEntry[] Entries(IEnumerable<KeyValuePair<string, long>> usage) =>
        usage.Select(p => new UsageEntry(p.Key, p.Value)).ToArray();

    private static string Write(EmfEventWriter writer, EmfContext context, string[] values, UsageEntry[] usage, long timestampMs, out int events)
    {
        var buffer = new ArrayBufferWriter<byte>();
        events = writer.WriteRecord(buffer, context, values, usage, timestampMs);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void WriteRecord_EqualsBuild_ForRandomValidInput()
    {
        // Property: for the same valid input, the writer's bytes and Build(...).ToJsonString() are the same JSON.
        var writer = new EmfEventWriter(templateCapacity: 64);
        EmfGen.Input(EmfSamples.NowMs).Sample(input =>
        {
            var built = EmfPayload.Build(input.Usage, input.Namespace, input.Dimensions, input.DimensionValues, input.ExtraProperties, input.TimestampMs, EmfSamples.Clock());
            var context = EmfContext.Create(input.Namespace, input.Dimensions, input.ExtraProperties);
            var values = EmfPayload.ResolveDimensionValues(context, input.DimensionValues);

            var buffer = new ArrayBufferWriter<byte>();
            var events = writer.WriteRecord(buffer, context, values, Entries(input.Usage), input.TimestampMs);

            Assert.Equal(1, events);
            var line = buffer.WrittenSpan;
            Assert.Equal((byte)'\n', line[^1]);
            var parsed = EmfAssert.ValidLine(line, EmfSamples.NowMs);
            // (The DOM itself can hold a lone surrogate that JSON text carries as U+FFFD, so compare the texts parsed.)
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(built.ToJsonString()), parsed), $"writer and Build differ for {input}");
            // Stronger than "same JSON": the same bytes as Build serialized with the library's JSON options.
            Assert.Equal(built.ToJsonString(EmfJson.SerializerOptions), Encoding.UTF8.GetString(line[..^1]));
        }, iter: 300);
    }

    [Fact]
    public void WriteRecord_MoreThan100UsageKeys_SplitsIntoEventsThatEachRepeatTheRest()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        var usage = Enumerable.Range(0, 250).Select(i => new UsageEntry($"metric{i}", i * 10L)).ToArray();

        var text = Write(new EmfEventWriter(), context, values, usage, EmfSamples.NowMs, out var events);

        Assert.Equal(3, events);
        var parsed = EmfAssert.ValidLines(text, EmfSamples.NowMs);
        Assert.Equal(3, parsed.Count);
        Assert.Equal([100, 100, 50], parsed.Select(e => e["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray().Count));
        foreach (var e in parsed)
        {
            Assert.Equal(EmfSamples.NowMs, e["_aws"]!["Timestamp"]!.GetValue<long>());
            Assert.Equal(EmfSamples.Namespace, e["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
            Assert.Equal("research-agent", e["Agent"]!.GetValue<string>());
            Assert.Equal("user-12345", e["UserId"]!.GetValue<string>());
            Assert.Equal("sess-9f8e7d6c-5b4a-3210", e["SessionId"]!.GetValue<string>());
        }

        // Every count appears exactly once across the events.
        var seen = parsed.SelectMany(e => e.Where(p => p.Key.StartsWith("metric", StringComparison.Ordinal)).Select(p => (p.Key, p.Value!.GetValue<long>()))).ToList();
        Assert.Equal(usage.Select(u => (u.Name, u.Value)).OrderBy(p => p.Name), seen.OrderBy(p => p.Key));
    }

    [Fact]
    public void WriteRecord_SplitEvents_EachEqualBuildOfTheirChunk()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        var usage = Enumerable.Range(0, 150).Select(i => new UsageEntry($"m{i}", i)).ToArray();

        var text = Write(new EmfEventWriter(), context, values, usage, EmfSamples.NowMs, out var events);

        Assert.Equal(2, events);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (var chunk = 0; chunk < 2; chunk++)
        {
            var part = usage.Skip(chunk * 100).Take(100).ToDictionary(u => u.Name, u => u.Value);
            var built = EmfPayload.Build(part, EmfSamples.Namespace, EmfSamples.Dimensions, EmfSamples.DimensionValues, EmfSamples.ExtraProperties, EmfSamples.NowMs, EmfSamples.Clock());
            Assert.Equal(built.ToJsonString(EmfJson.SerializerOptions), lines[chunk]);
        }
    }

    [Fact]
    public void WriteRecord_Exactly100Keys_IsOneEvent_AndNoUsageIsNoEvent()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        Write(new EmfEventWriter(), context, values, Enumerable.Range(0, 100).Select(i => new UsageEntry($"m{i}", i)).ToArray(), EmfSamples.NowMs, out var hundred);
        Assert.Equal(1, hundred);
        Assert.Equal(string.Empty, Write(new EmfEventWriter(), context, values, [], EmfSamples.NowMs, out var none));
        Assert.Equal(0, none);
    }

    [Fact]
    public void WriteMerged_WritesArraysOfAtMost100Values_AndSingleValuesAsNumbers()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        var names = new[] { "inputTokens", "outputTokens", "reasoningTokens" };
        var counts = new[] { 100, 1, 37 };
        var all = Enumerable.Range(0, 138).Select(i => (long)i).ToArray();
        var buffer = new ArrayBufferWriter<byte>();

        new EmfEventWriter().WriteMerged(buffer, context, values, names, all, counts, EmfSamples.NowMs);

        var e = EmfAssert.ValidLine(buffer.WrittenSpan, EmfSamples.NowMs);
        Assert.Equal(all[..100], e["inputTokens"]!.AsArray().Select(v => v!.GetValue<long>()));
        Assert.Equal(100, e["outputTokens"]!.GetValue<long>());
        Assert.Equal(all[101..], e["reasoningTokens"]!.AsArray().Select(v => v!.GetValue<long>()));
        Assert.Equal(names, e["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray().Select(m => m!["Name"]!.GetValue<string>()));
        Assert.Equal("user-12345", e["UserId"]!.GetValue<string>());
    }

    [Fact]
    public void WriteMerged_OneValuePerMetric_EqualsTheUnmergedEvent()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        var usage = Entries(EmfSamples.Usage);
        var merged = new ArrayBufferWriter<byte>();
        var single = new ArrayBufferWriter<byte>();
        var writer = new EmfEventWriter();

        writer.WriteMerged(merged, context, values, usage.Select(u => u.Name).ToArray(), usage.Select(u => u.Value).ToArray(), usage.Select(_ => 1).ToArray(), EmfSamples.NowMs);
        writer.WriteRecord(single, context, values, usage, EmfSamples.NowMs);

        Assert.Equal(Encoding.UTF8.GetString(single.WrittenSpan), Encoding.UTF8.GetString(merged.WrittenSpan));
    }

    [Theory]
    [InlineData(101)]
    [InlineData(0)]
    public void WriteMerged_CountOutside1To100_IsRefused(int count)
    {
        var context = StandardContext();
        var values = StandardValues(context);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new EmfEventWriter().WriteMerged(new ArrayBufferWriter<byte>(), context, values, ["inputTokens"], new long[count], [count], EmfSamples.NowMs));
    }

    [Fact]
    public void WriteMerged_CountsNotMatchingValues_IsRefused()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        Assert.Throws<ArgumentException>(() =>
            new EmfEventWriter().WriteMerged(new ArrayBufferWriter<byte>(), context, values, ["inputTokens"], new long[3], [2], EmfSamples.NowMs));
    }

    [Fact]
    public void TemplateCache_IsBounded_AndStaysCorrectWhenValuesChange()
    {
        var context = StandardContext();
        var writer = new EmfEventWriter(templateCapacity: 4);
        var usage = Entries(EmfSamples.Usage);

        for (var i = 0; i < 50; i++)
        {
            var model = $"model-{i % 7}";
            var values = new[] { model, $"agent-{i % 3}" };
            var line = Write(writer, context, values, usage, EmfSamples.NowMs + i, out _);
            var e = EmfAssert.ValidLine(line, EmfSamples.NowMs);
            Assert.Equal(model, e["Model"]!.GetValue<string>());
            Assert.Equal($"agent-{i % 3}", e["Agent"]!.GetValue<string>());
            Assert.Equal(EmfSamples.NowMs + i, e["_aws"]!["Timestamp"]!.GetValue<long>());
            Assert.InRange(writer.TemplateCount, 1, 4);
        }

        Assert.True(writer.TemplateCacheResets > 0);
    }

    [Fact]
    public void TemplateCache_SameValuesInNewArrays_ReuseOneTemplate()
    {
        var context = StandardContext();
        var writer = new EmfEventWriter();
        for (var i = 0; i < 10; i++)
        {
            // New string instances each time: lookups compare contents, not references.
            var values = new[] { new string("gpt-4o".AsSpan()), new string("agent".AsSpan()) };
            var usage = new[] { new UsageEntry(new string("inputTokens".AsSpan()), i) };
            Write(writer, context, values, usage, EmfSamples.NowMs, out _);
        }

        Assert.Equal(1, writer.TemplateCount);
    }

    [Fact]
    public void WriteRecord_MetricNamedLikeAProperty_WinsAndThePropertyIsLeftOut()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        var text = Write(new EmfEventWriter(), context, values, [new UsageEntry("UserId", 7)], EmfSamples.NowMs, out _);
        var e = EmfAssert.ValidLine(text, EmfSamples.NowMs);
        Assert.Equal(7, e["UserId"]!.GetValue<long>());
        Assert.Equal("sess-9f8e7d6c-5b4a-3210", e["SessionId"]!.GetValue<string>());
    }

    [Fact]
    public void WriteRecord_HighResolutionContext_MarksEveryMetric()
    {
        var context = EmfContext.Create(EmfSamples.Namespace, EmfSamples.Dimensions, null, storageResolution: 1);
        var text = Write(new EmfEventWriter(), context, StandardValues(context), Entries(EmfSamples.Usage), EmfSamples.NowMs, out _);
        var e = EmfAssert.ValidLine(text, EmfSamples.NowMs);
        Assert.All(e["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray(), m => Assert.Equal(1, m!["StorageResolution"]!.GetValue<int>()));
    }

    [Fact]
    public void EmfContext_StorageResolutionOtherThan1Or60_IsRefused()
    {
        var e = Assert.Throws<EmfValidationException>(() => EmfContext.Create(EmfSamples.Namespace, EmfSamples.Dimensions, null, storageResolution: 30));
        Assert.Equal("storageResolution", e.Field);
    }

    [Fact]
    public void WriteRecord_InSteadyState_AllocatesNothing()
    {
        var context = StandardContext();
        var values = StandardValues(context);
        var usage = Entries(EmfSamples.Usage);
        var writer = new EmfEventWriter();
        var buffer = new ArrayBufferWriter<byte>(4096);
        for (var i = 0; i < 1000; i++)
        {
            buffer.ResetWrittenCount();
            writer.WriteRecord(buffer, context, values, usage, EmfSamples.NowMs + i);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            buffer.ResetWrittenCount();
            writer.WriteRecord(buffer, context, values, usage, EmfSamples.NowMs + i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
