using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;

namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>
/// <c>throughput --seconds N [--stall-emitter]</c>: records per second through the whole pipeline (hook → router →
/// stream → null emitter, batching on), against a plain Utf8JsonWriter writing the same event, measured in the
/// same run. Prints one JSON line.
/// </summary>
internal static class ThroughputCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = 10.0;
        var stall = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds":
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--stall-emitter":
                    stall = true;
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; usage: throughput [--seconds N] [--stall-emitter]");
                    return 2;
            }
        }

        var baseline = MeasureBaseline(TimeSpan.FromSeconds(Math.Min(seconds, 3)));
        var result = stall ? await RunStalledAsync(seconds) : await RunPipelineAsync(seconds);
        result["baseline_records_per_second"] = Math.Round(baseline);
        if (result.TryGetValue("records_per_second", out var rps))
        {
            result["ratio"] = Math.Round((double)rps / baseline, 3);
        }

        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static ActorSystem StartSystem(string emitters, TokenTelemetrySetup? setup)
    {
        var config = ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.token-telemetry {
              emitters = {{emitters}}
              dimensions = [["Model"], ["Model", "Agent"]]
              emitter.stalled { type = delegate, ask-timeout = 5s }
              shutdown-timeout = 1s
            }
            """).WithFallback(TokenTelemetry.DefaultConfig);
        var bootstrap = BootstrapSetup.Create().WithConfig(config);
        return ActorSystem.Create("throughput", setup is null ? ActorSystemSetup.Create(bootstrap) : ActorSystemSetup.Create(bootstrap, setup));
    }

    private static AfterInvocationEvent Event() => new()
    {
        Agent = new AgentInfo { Name = StandardPayload.Agent },
        Result = new AgentResult { Usage = StandardPayload.UsageMap.ToDictionary(), Model = StandardPayload.Model },
    };

    private static async Task<Dictionary<string, object>> RunPipelineAsync(double seconds)
    {
        var system = StartSystem("[\"null\"]", null);
        var telemetry = TokenTelemetry.Get(system);
        var hook = telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = StandardPayload.ExtraProperties });
        var delivered = telemetry.Pipeline.Counters.Emitter("null");
        var e = Event();

        // Warm up, then measure: the producer keeps at most Window records in flight, so nothing is dropped.
        ClosedLoop.Produce([hook], [e], () => delivered.RecordsDelivered, TimeSpan.FromSeconds(1));
        await telemetry.FlushAsync();
        var startDelivered = delivered.RecordsDelivered;
        var watch = Stopwatch.StartNew();
        ClosedLoop.Produce([hook], [e], () => delivered.RecordsDelivered, TimeSpan.FromSeconds(seconds));
        var deliveredInWindow = delivered.RecordsDelivered - startDelivered;
        var elapsed = watch.Elapsed;
        await telemetry.FlushAsync();
        var stats = telemetry.Stats;
        var total = stats.Emitters["null"].RecordsDelivered;
        await system.Terminate();

        return new Dictionary<string, object>
        {
            ["mode"] = "pipeline",
            ["seconds"] = Math.Round(elapsed.TotalSeconds, 2),
            ["records_per_second"] = Math.Round(deliveredInWindow / elapsed.TotalSeconds),
            ["sent"] = stats.RecordsReceived,
            ["delivered"] = total,
            ["lost"] = stats.RecordsReceived - total,
            ["dropped"] = stats.RecordsDroppedTotal + stats.Emitters["null"].RecordsDroppedTotal,
            ["peak_working_set_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64,
        };
    }

    private static async Task<Dictionary<string, object>> RunStalledAsync(double seconds)
    {
        var setup = new TokenTelemetrySetup().WithEmitter("stalled", new StalledEmitter());
        var system = StartSystem("[stalled]", setup);
        var telemetry = TokenTelemetry.Get(system);
        var hook = telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = StandardPayload.ExtraProperties });
        var e = Event();
        var samples = new List<long>();
        var watch = Stopwatch.StartNew();
        var nextSample = TimeSpan.Zero;
        long sent = 0;
        long heapAfter1s = 0;
        while (watch.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            // As fast as the caller can go, with nothing delivered: only the configured buffers may fill.
            for (var i = 0; i < 1000; i++)
            {
                hook.OnAfterInvocation(e);
            }

            sent += 1000;
            if (watch.Elapsed >= nextSample)
            {
                samples.Add(Environment.WorkingSet);
                if (samples.Count == 2)
                {
                    // What is really retained after one second, for comparison with the end (a full GC, once).
                    heapAfter1s = GC.GetTotalMemory(forceFullCollection: true);
                }

                nextSample += TimeSpan.FromSeconds(1);
            }
        }

        var elapsed = watch.Elapsed;
        var heapAtEnd = GC.GetTotalMemory(forceFullCollection: true);
        var stats = telemetry.Stats;
        await system.Terminate();
        var firstSecond = samples.Count > 1 ? samples[1] : samples[0];
        return new Dictionary<string, object>
        {
            ["mode"] = "stall-emitter",
            ["seconds"] = Math.Round(elapsed.TotalSeconds, 2),
            ["sent"] = sent,
            ["delivered"] = stats.Emitters["stalled"].RecordsDelivered,
            ["dropped"] = stats.RecordsDroppedTotal + stats.Emitters["stalled"].RecordsDroppedTotal,
            ["dropped_by_reason"] = stats.RecordsDropped.Concat(stats.Emitters["stalled"].RecordsDropped).ToDictionary(p => p.Key, p => p.Value),
            ["working_set_after_1s_bytes"] = firstSecond,
            ["final_working_set_bytes"] = samples[^1],
            ["peak_working_set_bytes"] = samples.Max(),
            ["retained_heap_after_1s_bytes"] = heapAfter1s,
            ["retained_heap_at_end_bytes"] = heapAtEnd,
        };
    }

    /// <summary>The plain Utf8JsonWriter baseline of EmfWriterBenchmarks, as records per second on one thread.</summary>
    private static double MeasureBaseline(TimeSpan duration)
    {
        var bench = new EmfWriterBenchmarks();
        bench.Setup();
        for (var i = 0; i < 100_000; i++)
        {
            bench.PlainUtf8JsonWriter();
        }

        long count = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < duration)
        {
            for (var i = 0; i < 1000; i++)
            {
                bench.PlainUtf8JsonWriter();
            }

            count += 1000;
        }

        bench.Cleanup();
        return count / watch.Elapsed.TotalSeconds;
    }

    /// <summary>An emitter that never finishes a batch.</summary>
    private sealed class StalledEmitter : IEmfEmitter
    {
        private readonly TaskCompletionSource _never = new();

        public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken) => new(_never.Task);
    }
}
