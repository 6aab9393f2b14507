using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;

namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>
/// <c>soak --minutes N [--seconds N] [--rate R] [--pause-every D] [--stall-emitter] [--fail-rate P]</c>: sends
/// records at a steady rate through the cloudwatch-agent emitter to a real TCP listener on 127.0.0.1 whose reading
/// is paused half of every pause period, samples the working set and <c>Stats</c> every second, and prints a JSON
/// summary: sent, delivered, dropped by reason, malformed lines, peak and final working set, p50/p99 hook-to-emit
/// latency. With <c>--stall-emitter</c> a second emitter never returns; with <c>--fail-rate P</c> a third fails
/// that share of its attempts. Exit code 1 when a line was malformed or a record is unaccounted for.
/// </summary>
internal static class SoakCommand
{
    private const string Usage = "usage: soak [--minutes N | --seconds N] [--rate R] [--pause-every 10s] [--stall-emitter] [--fail-rate P]";

    public static async Task<int> RunAsync(string[] args)
    {
        var duration = TimeSpan.FromMinutes(1);
        var rate = 5_000;
        var pauseEvery = TimeSpan.FromSeconds(10);
        var stall = false;
        var failRate = 0.0;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--minutes":
                        duration = TimeSpan.FromMinutes(Number(args, ref i));
                        break;
                    case "--seconds":
                        duration = TimeSpan.FromSeconds(Number(args, ref i));
                        break;
                    case "--rate":
                        rate = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                        break;
                    case "--pause-every":
                        pauseEvery = TimeSpan.FromSeconds(double.Parse(Value(args, ref i).TrimEnd('s'), CultureInfo.InvariantCulture));
                        break;
                    case "--stall-emitter":
                        stall = true;
                        break;
                    case "--fail-rate":
                        failRate = Number(args, ref i);
                        break;
                    default:
                        await Console.Error.WriteLineAsync($"unknown option {args[i]}; {Usage}");
                        return 2;
                }
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            // A missing or unparsable value (or a duration TimeSpan cannot hold): a usage error, not a crash.
            await Console.Error.WriteLineAsync($"{e.Message}; {Usage}");
            return 2;
        }

        if (duration <= TimeSpan.Zero || rate <= 0 || pauseEvery <= TimeSpan.Zero || failRate is < 0 or > 1 || duration.TotalSeconds * rate > Array.MaxLength - rate)
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        var capacity = (int)Math.Ceiling(duration.TotalSeconds * rate) + rate;
        var sentAt = new long[capacity];
        using var agent = new SoakAgent(sentAt);
        var emitters = new List<string> { "agent" };
        var setup = new TokenTelemetrySetup();
        if (stall)
        {
            emitters.Add("stalled");
            setup = setup.WithEmitter("stalled", new NeverReturns());
        }

        if (failRate > 0)
        {
            emitters.Add("flaky");
            setup = setup.WithEmitter("flaky", new Flaky(failRate));
        }

        var config = ConfigurationFactory.ParseString($$"""
            akka.loglevel = ERROR
            akka.stdout-loglevel = OFF
            akka.loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"]
            akka.token-telemetry {
              dimensions = [["Model"], ["Model", "Agent"]]
              emitters = [{{string.Join(", ", emitters)}}]
              emitter.agent { endpoint = "tcp://127.0.0.1:{{agent.Port}}", log-group-name = soak }
              emitter.stalled { type = delegate, ask-timeout = 2s, max-retries-per-batch = 0 }
              emitter.flaky { type = delegate }
              shutdown-timeout = 20s
            }
            akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout = 25s
            """).WithFallback(TokenTelemetry.DefaultConfig);
        var system = ActorSystem.Create("soak", ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), setup));
        var telemetry = TokenTelemetry.Get(system);
        var hook = telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = StandardPayload.ExtraProperties });
        var process = Process.GetCurrentProcess();
        var samples = new List<(double Second, long WorkingSet)>();
        var retained = new List<(double Second, long Bytes)>();

        await Console.Error.WriteLineAsync($"soak: {duration} at {rate} records/s, agent reading paused {pauseEvery.TotalSeconds / 2:0.#} s of every {pauseEvery.TotalSeconds:0.#} s{(stall ? ", plus a stalled emitter" : string.Empty)}{(failRate > 0 ? $", plus an emitter failing {failRate:P0} of attempts" : string.Empty)}");
        var clock = Stopwatch.StartNew();
        long sent = 0;
        var nextSample = TimeSpan.FromSeconds(1);
        while (clock.Elapsed < duration)
        {
            // Pause the agent's reading for the second half of every period.
            var inPeriod = clock.Elapsed.TotalSeconds % pauseEvery.TotalSeconds;
            agent.Paused = inPeriod >= pauseEvery.TotalSeconds / 2;

            // Steady rate: catch up to where the clock says we should be.
            var due = Math.Min(capacity, (long)(clock.Elapsed.TotalSeconds * rate));
            while (sent < due)
            {
                var seq = sent++;
                sentAt[seq] = Stopwatch.GetTimestamp();
                hook.OnAfterInvocation(Invocation(seq));
            }

            if (clock.Elapsed >= nextSample)
            {
                process.Refresh();
                samples.Add((clock.Elapsed.TotalSeconds, process.WorkingSet64));
                if (samples.Count % 10 == 0)
                {
                    // What is really held (after a full collection), beside the working set the GC keeps around.
                    retained.Add((clock.Elapsed.TotalSeconds, GC.GetTotalMemory(forceFullCollection: true)));
                    var s = telemetry.Stats;
                    await Console.Error.WriteLineAsync($"  {clock.Elapsed.TotalSeconds,6:0} s  sent {sent,9:N0}  delivered {s.Emitters["agent"].RecordsDelivered,9:N0}  dropped {s.RecordsDroppedTotal + s.Emitters["agent"].RecordsDroppedTotal,7:N0}  lines {agent.Lines,9:N0}  working set {process.WorkingSet64 / 1e6,6:0} MB  retained heap {retained[^1].Bytes / 1e6,5:0} MB");
                }

                nextSample += TimeSpan.FromSeconds(1);
            }

            await Task.Delay(5);
        }

        // Let the agent read everything, and the pipeline deliver what it holds.
        var sendingSeconds = clock.Elapsed.TotalSeconds;

        // A stalled emitter never lets a flush finish; the graceful shutdown that follows is bounded either way and
        // counts what it could not deliver.
        agent.Paused = false;
        var flushed = true;
        using (var flush = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            try
            {
                await telemetry.FlushAsync(flush.Token);
            }
            catch (OperationCanceledException)
            {
                flushed = false;
            }
        }

        await agent.WaitForQuietAsync(TimeSpan.FromSeconds(10));
        await system.Terminate();
        var stats = telemetry.Stats;
        var branch = stats.Emitters["agent"];

        var dropped = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var (reason, count) in stats.RecordsDropped.Concat(branch.RecordsDropped))
        {
            dropped[reason] = dropped.GetValueOrDefault(reason) + count;
        }

        // Every record the loop sent is delivered by the agent emitter or dropped with a reason (before the emitters,
        // or by this emitter); measured against the loop's own count, so a record the hook failed to count shows.
        var accounted = branch.RecordsDelivered + dropped.Values.Sum();
        var baselineAt = duration >= TimeSpan.FromMinutes(2) ? 60 : Math.Max(1, duration.TotalSeconds / 4);
        var baseline = samples.Where(s => s.Second <= baselineAt + 0.5).Select(s => s.WorkingSet).DefaultIfEmpty(0).Last();
        var final = samples.Count > 0 ? samples[^1].WorkingSet : 0;
        var latencies = agent.Latencies();
        var summary = new JsonObject
        {
            ["seconds"] = Math.Round(sendingSeconds, 1),
            ["rate"] = rate,
            ["sent"] = sent,
            ["received"] = stats.RecordsReceived,
            ["delivered"] = branch.RecordsDelivered,
            ["dropped"] = new JsonObject(dropped.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["unaccounted"] = sent - accounted,
            ["flush_completed"] = flushed,
            ["lines_received"] = agent.Lines,
            ["distinct_records_received"] = agent.Distinct,
            ["duplicates"] = agent.Lines - agent.Distinct - agent.Malformed,
            ["malformed_lines"] = agent.Malformed,
            ["connections"] = agent.Connections,
            ["working_set_baseline_mb"] = Math.Round(baseline / 1e6, 1),
            ["working_set_baseline_at_seconds"] = Math.Round(baselineAt),
            ["working_set_peak_mb"] = Math.Round(samples.Select(s => s.WorkingSet).DefaultIfEmpty(0).Max() / 1e6, 1),
            ["working_set_final_mb"] = Math.Round(final / 1e6, 1),
            ["working_set_final_over_baseline"] = baseline > 0 ? Math.Round((double)final / baseline, 3) : null,
            ["retained_heap_baseline_mb"] = Math.Round(retained.Where(r => r.Second <= baselineAt + 10).Select(r => r.Bytes).DefaultIfEmpty(0).Last() / 1e6, 1),
            ["retained_heap_final_mb"] = Math.Round(retained.Select(r => r.Bytes).DefaultIfEmpty(0).Last() / 1e6, 1),
            ["latency_p50_ms"] = Percentile(latencies, 0.50),
            ["latency_p99_ms"] = Percentile(latencies, 0.99),
        };
        if (stall)
        {
            summary["stalled_emitter_dropped"] = stats.Emitters["stalled"].RecordsDroppedTotal;
        }

        if (failRate > 0)
        {
            summary["flaky_emitter"] = new JsonObject
            {
                ["delivered"] = stats.Emitters["flaky"].RecordsDelivered,
                ["dropped"] = stats.Emitters["flaky"].RecordsDroppedTotal,
                ["retries"] = stats.Emitters["flaky"].Retries,
            };
        }

        Console.WriteLine(summary.ToJsonString());
        return agent.Malformed == 0 && accounted == sent ? 0 : 1;
    }

    private static string Value(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");

    private static double Number(string[] args, ref int i)
    {
        var name = args[i];
        var value = double.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
        return double.IsFinite(value) ? value : throw new ArgumentException($"{name} needs a finite number");
    }

    private static AfterInvocationEvent Invocation(long seq) => new()
    {
        Agent = new AgentInfo { Name = StandardPayload.Agent },
        Result = new AgentResult
        {
            Usage = new Dictionary<string, long> { ["inputTokens"] = 1523, ["outputTokens"] = 842, ["totalTokens"] = 2365, ["seq"] = seq },
            Model = StandardPayload.Model,
        },
    };

    private static double? Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? null : Math.Round(sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))], 1);

    /// <summary>Never completes, ignoring its token.</summary>
    private sealed class NeverReturns : IEmfEmitter
    {
        private readonly TaskCompletionSource _never = new();

        public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken) => new(_never.Task);
    }

    /// <summary>Fails a share of its attempts.</summary>
    private sealed class Flaky(double failRate) : IEmfEmitter
    {
        public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken) =>
            Random.Shared.NextDouble() < failRate ? throw new IOException("simulated failure") : ValueTask.CompletedTask;
    }

    /// <summary>
    /// The CloudWatch agent's stand-in: a TCP listener on 127.0.0.1 that checks every line is an EMF event, records
    /// when each record first arrived, and can stop reading (its socket buffers then fill, as with a stuck agent).
    /// </summary>
    private sealed class SoakAgent : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly long[] _sentAt;
        private readonly double[] _latencyMs;
        private long _lines;
        private long _distinct;
        private long _malformed;
        private int _connections;
        private long _lastLineAt = Stopwatch.GetTimestamp();

        public SoakAgent(long[] sentAt)
        {
            _sentAt = sentAt;
            _latencyMs = new double[sentAt.Length];
            Array.Fill(_latencyMs, -1);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = AcceptAsync();
        }

        public int Port { get; }

        public volatile bool Paused;

        public long Lines => Interlocked.Read(ref _lines);

        public long Distinct => Interlocked.Read(ref _distinct);

        public long Malformed => Interlocked.Read(ref _malformed);

        public int Connections => Volatile.Read(ref _connections);

        public List<double> Latencies()
        {
            var list = _latencyMs.Where(l => l >= 0).ToList();
            list.Sort();
            return list;
        }

        public async Task WaitForQuietAsync(TimeSpan quiet)
        {
            while (Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastLineAt)) < TimeSpan.FromSeconds(1))
            {
                await Task.Delay(100);
                if (Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastLineAt)) > quiet)
                {
                    break;
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    Interlocked.Increment(ref _connections);
                    _ = Task.Run(() => ReadAsync(client));
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        }

        private async Task ReadAsync(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            var buffer = new byte[64 * 1024];
            var pending = new MemoryStream();
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    while (Paused && !_stop.IsCancellationRequested)
                    {
                        await Task.Delay(20);
                    }

                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    var start = 0;
                    for (var i = 0; i < read; i++)
                    {
                        if (buffer[i] != (byte)'\n')
                        {
                            continue;
                        }

                        pending.Write(buffer, start, i - start);
                        Line(pending.GetBuffer().AsSpan(0, (int)pending.Length));
                        pending.SetLength(0);
                        start = i + 1;
                    }

                    pending.Write(buffer, start, read - start);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // The connection ended; an unfinished line is not an event.
            }
        }

        private void Line(ReadOnlySpan<byte> line)
        {
            Interlocked.Increment(ref _lines);
            Interlocked.Exchange(ref _lastLineAt, Stopwatch.GetTimestamp());
            try
            {
                var root = JsonNode.Parse(line)!.AsObject();
                var aws = root["_aws"]!.AsObject();
                var directive = aws["CloudWatchMetrics"]![0]!.AsObject();
                var valid = aws["Timestamp"]!.GetValue<long>() > 0
                    && aws["LogGroupName"]!.GetValue<string>() == "soak"
                    && directive["Metrics"]!.AsArray().All(m => root[m!["Name"]!.GetValue<string>()] is JsonValue)
                    && directive["Dimensions"]!.AsArray().SelectMany(d => d!.AsArray()).All(k => root[k!.GetValue<string>()] is JsonValue);
                if (!valid)
                {
                    Interlocked.Increment(ref _malformed);
                    return;
                }

                var seq = root["seq"]!.GetValue<long>();
                if (seq >= 0 && seq < _sentAt.Length && Interlocked.CompareExchange(ref _latencyMs[seq], Stopwatch.GetElapsedTime(_sentAt[seq]).TotalMilliseconds, -1) == -1)
                {
                    Interlocked.Increment(ref _distinct);
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException or ArgumentException)
            {
                Interlocked.Increment(ref _malformed);
            }
        }
    }
}
