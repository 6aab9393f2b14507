using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;

namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>
/// <c>merge --seconds N</c>: bytes written per invocation and records per second, merge on versus off, for
/// (a) 1,000 agents each with its own <c>SessionId</c> property (little to merge) and (b) 20 models × 5 agents with no
/// per-session property. Default batch settings. Prints one JSON line per run.
/// </summary>
internal static class MergeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = 5.0;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--seconds")
            {
                seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else
            {
                Console.Error.WriteLine($"unknown option {args[i]}; usage: merge [--seconds N]");
                return 2;
            }
        }

        foreach (var scenario in new[] { "sessions", "models" })
        {
            foreach (var merge in new[] { false, true })
            {
                Console.WriteLine(JsonSerializer.Serialize(await RunAsync(scenario, merge, seconds)));
            }
        }

        return 0;
    }

    private static async Task<Dictionary<string, object>> RunAsync(string scenario, bool merge, double seconds)
    {
        var counter = new ByteCounter();
        var config = ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"]
            akka.token-telemetry {
              emitters = [bytes]
              emitter.bytes.type = delegate
              dimensions = [["Model"], ["Model", "Agent"]]
              merge.enabled = {{(merge ? "on" : "off")}}
            }
            """).WithFallback(TokenTelemetry.DefaultConfig);
        var setup = ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), new TokenTelemetrySetup().WithEmitter("bytes", counter));
        var system = ActorSystem.Create("merge", setup);
        var telemetry = TokenTelemetry.Get(system);
        var (hooks, events) = scenario == "sessions" ? Sessions(telemetry) : Models(telemetry);

        ClosedLoop.Produce(hooks, events, () => counter.Records, TimeSpan.FromSeconds(1));
        await telemetry.FlushAsync();
        var (startRecords, startBytes) = (counter.Records, counter.Bytes);
        var watch = Stopwatch.StartNew();
        ClosedLoop.Produce(hooks, events, () => counter.Records, TimeSpan.FromSeconds(seconds));
        var elapsed = watch.Elapsed;
        var records = counter.Records - startRecords;
        await telemetry.FlushAsync();
        var bytes = counter.Bytes - startBytes;
        var delivered = counter.Records - startRecords;
        var stats = telemetry.Stats;
        await system.Terminate();
        return new Dictionary<string, object>
        {
            ["scenario"] = scenario == "sessions" ? "1000 agents, own SessionId each" : "20 models x 5 agents, no per-session property",
            ["merge"] = merge,
            ["records_per_second"] = Math.Round(records / elapsed.TotalSeconds),
            ["bytes_per_record"] = Math.Round((double)bytes / delivered, 1),
            ["events_per_record"] = Math.Round((double)stats.EventsWritten / stats.RecordsAccepted, 4),
            ["lost"] = stats.RecordsReceived - stats.Emitters["bytes"].RecordsDelivered,
        };
    }

    private static (TokenUsageHook[] Hooks, AfterInvocationEvent[] Events) Sessions(TokenTelemetry telemetry)
    {
        var hooks = new TokenUsageHook[1000];
        var events = new AfterInvocationEvent[1000];
        for (var i = 0; i < hooks.Length; i++)
        {
            hooks[i] = telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["SessionId"] = $"session-{i:0000}-{Guid.NewGuid():N}" } });
            events[i] = Event($"model-{i % 20:00}", $"agent-{i}");
        }

        return (hooks, events);
    }

    private static (TokenUsageHook[] Hooks, AfterInvocationEvent[] Events) Models(TokenTelemetry telemetry)
    {
        var hook = telemetry.CreateHook();
        var events = new AfterInvocationEvent[100];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = Event($"model-{i % 20:00}", $"agent-{i / 20}");
        }

        return (Enumerable.Repeat(hook, events.Length).ToArray(), events);
    }

    private static AfterInvocationEvent Event(string model, string agent) => new()
    {
        Agent = new AgentInfo { Name = agent },
        Result = new AgentResult { Usage = StandardPayload.UsageMap.ToDictionary(), Model = model },
    };

    /// <summary>Counts the records and bytes it is given, and writes nothing.</summary>
    private sealed class ByteCounter : IEmfEmitter
    {
        private long _records;
        private long _bytes;

        public long Records => Interlocked.Read(ref _records);

        public long Bytes => Interlocked.Read(ref _bytes);

        public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
        {
            Interlocked.Add(ref _records, batch.RecordCount);
            Interlocked.Add(ref _bytes, batch.Length);
            return ValueTask.CompletedTask;
        }
    }
}
