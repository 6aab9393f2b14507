using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Pipeline;

/// <summary>The pipeline's own counters are published through the AkkaTokenTelemetry meter, tagged with the system.</summary>
public class SelfTelemetryTests
{
    [Fact]
    public async Task Meter_PublishesReceivedDeliveredAndDroppedCounts()
    {
        var measurements = new ConcurrentDictionary<string, long>();
        string? systemName = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "AkkaTokenTelemetry" && instrument.Meter.Tags?.Any(t => t.Key == "actor_system" && (string?)t.Value == systemName) == true)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var reason = string.Concat(tags.ToArray().Where(t => t.Key == "reason").Select(t => "/" + t.Value));
            measurements.AddOrUpdate(instrument.Name + reason, value, (_, v) => v + value);
        });

        var collector = new CollectingEmitter();
        var setup = new TokenTelemetrySetup().WithEmitter("collect", collector);
        var t = TelemetrySystem.Start("akka.token-telemetry { emitters = [collect], emitter.collect.type = delegate }", setup);
        systemName = t.System.Name;
        listener.Start();
        await using (t)
        {
            var hook = t.Telemetry.CreateHook();
            for (var i = 0; i < 5; i++)
            {
                hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
            }

            hook.OnAfterInvocation(new AfterInvocationEvent { Agent = new AgentInfo(), Result = new AgentResult { Usage = new Dictionary<string, long> { ["x"] = -1 } } });
            await t.FlushAsync();
        }

        Assert.Equal(6, measurements["token_telemetry.records.received"]);
        Assert.Equal(5, measurements["token_telemetry.records.accepted"]);
        Assert.Equal(5, measurements["token_telemetry.records.delivered"]);
        Assert.Equal(5, measurements["token_telemetry.events.written"]);
        Assert.Equal(1, measurements["token_telemetry.records.dropped/no_usage"]);
        Assert.Equal(1, measurements["token_telemetry.usage_values.dropped/negative_count"]);
    }
}
