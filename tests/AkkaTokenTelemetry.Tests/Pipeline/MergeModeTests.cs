using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Pipeline;

/// <summary>Merge mode through the whole pipeline: records of one batch sharing everything but their counts become array events.</summary>
public class MergeModeTests
{
    private const string MergeOn = """
        akka.token-telemetry {
          emitters = [collect]
          emitter.collect.type = delegate
          merge.enabled = on
          batch { max-records = 5000, max-delay = 30s }
        }
        """;

    [Theory]
    [InlineData(1000, new[] { 100, 100, 100, 100, 100, 100, 100, 100, 100, 100 })]
    [InlineData(101, new[] { 100, 1 })]
    public async Task IdenticalKeyRecordsInOneBatch_BecomeEventsOf100Values(int records, int[] expectedValues)
    {
        var collector = new CollectingEmitter();
        await using var t = TelemetrySystem.Start(MergeOn, new TokenTelemetrySetup().WithEmitter("collect", collector));
        var hook = t.Telemetry.CreateHook();

        for (var i = 0; i < records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync(); // closes the one batch

        var events = collector.Events.ToList();
        Assert.Equal(expectedValues, events.Select(e => e["seq"] is JsonArray a ? a.Count : 1));
        var seqs = events.SelectMany(e => e["seq"] is JsonArray a ? a.Select(v => v!.GetValue<long>()) : [e["seq"]!.GetValue<long>()]).Order();
        Assert.Equal(Enumerable.Range(0, records).Select(i => (long)i), seqs);
        var stats = t.Telemetry.Stats;
        Assert.Equal(expectedValues.Length, stats.EventsWritten);
        Assert.Equal(expectedValues.Where(n => n > 1).Sum(), stats.RecordsMerged);
        Assert.Equal(records, stats.Emitters["collect"].RecordsDelivered);
    }

    [Fact]
    public async Task MergeOff_IsOneEventPerRecord_AsTheSeedWrites()
    {
        var collector = new CollectingEmitter();
        await using var t = TelemetrySystem.Start(MergeOn.Replace("merge.enabled = on", "merge.enabled = off", StringComparison.Ordinal), new TokenTelemetrySetup().WithEmitter("collect", collector));
        var hook = t.Telemetry.CreateHook();
        for (var i = 0; i < 10; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        Assert.Equal(10, collector.Events.Count);
        Assert.All(collector.Events, e => Assert.IsNotType<JsonArray>(e["seq"]));
        Assert.Equal(0, t.Telemetry.Stats.RecordsMerged);
    }
}
