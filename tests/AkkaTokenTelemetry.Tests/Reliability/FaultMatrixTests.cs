using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;
using static AkkaTokenTelemetry.Tests.Support.LoopbackHttpServer;

namespace AkkaTokenTelemetry.Tests.Reliability;

/// <summary>
/// The failure-behaviour table of the README, one fault per test. Each runs a faulty emitter beside a healthy
/// "control" emitter and asserts the documented outcome: which records the faulty one delivers, which it drops and
/// under which counted reason — and that the control emitter gets every record regardless.
/// </summary>
public class FaultMatrixTests(ITestOutputHelper output) : TestKit(output: output)
{
    private const int Records = 200;

    private static string Hocon(string faulty) => $$"""
        akka.token-telemetry {
          emitters = [faulty, control]
          emitter.control.type = delegate
          emitter.faulty {
            {{faulty}}
          }
        }
        """;

    private static TelemetrySystem Start(string faulty, CollectingEmitter control, TokenTelemetrySetup? setup = null) =>
        TelemetrySystem.Start(Hocon(faulty), (setup ?? new TokenTelemetrySetup()).WithEmitter("control", control));

    private static void Send(TelemetrySystem t, int records = Records, int start = 0)
    {
        var hook = t.Telemetry.CreateHook();
        for (var i = start; i < start + records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }
    }

    /// <summary>
    /// The faulty emitter delivered exactly <paramref name="delivered"/> records and dropped all the others under the
    /// one reason <paramref name="reason"/> (none when everything was delivered).
    /// </summary>
    private async Task AssertFaultyOutcomeAsync(TelemetrySystem t, long delivered, string? reason = null)
    {
        await AwaitAssertAsync(
            () =>
            {
                var stats = t.Telemetry.Stats.Emitters["faulty"];
                Assert.Equal(delivered, stats.RecordsDelivered);
                var expected = delivered == Records ? new Dictionary<string, long>() : new Dictionary<string, long> { [reason!] = Records - delivered };
                Assert.Equal(expected, stats.RecordsDropped.ToDictionary(p => p.Key, p => p.Value));
            },
            Dilated(TimeSpan.FromSeconds(20)));
    }

    /// <summary>Every record the emitter was given is delivered or dropped, and only for one of <paramref name="reasons"/>.</summary>
    private static void AssertAccountedFor(EmitterStats stats, long given, params string[] reasons)
    {
        Assert.Equal(given, stats.RecordsDelivered + stats.RecordsDropped.Values.Sum());
        Assert.All(stats.RecordsDropped.Keys, reason => Assert.Contains(reason, reasons));
    }

    private async Task AssertControlGotEverythingAsync(CollectingEmitter control, int records = Records) =>
        await AwaitAssertAsync(() => Assert.Equal(records, control.Records), Dilated(TimeSpan.FromSeconds(5)));

    [Fact]
    public async Task EmitterThrowsAlways_EveryRecordIsDroppedAsRetriesExhausted_AndTheEmitterIsRestarted()
    {
        var control = new CollectingEmitter();
        await using var t = Start("type = delegate, max-retries-per-batch = 1", control, new TokenTelemetrySetup().WithEmitter("faulty", new FailingEmitter(-1)));
        Send(t);

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted);
        await AwaitAssertAsync(() => Assert.True(t.Telemetry.Stats.Emitters["faulty"].Restarts >= 1, "the sink is restarted after its backoff"), Dilated(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task EmitterThrowsSometimes_RetriesDeliverEveryRecord()
    {
        var control = new CollectingEmitter();
        var behind = new SequenceEmitter();
        var flaky = new FlakyEmitter(0.3, seed: 7, behind);
        await using var t = Start("type = delegate, max-retries-per-batch = 8", control, new TokenTelemetrySetup().WithEmitter("faulty", flaky));
        for (var wave = 0; wave < 10; wave++)
        {
            Send(t, Records / 10, wave * (Records / 10));
            await t.FlushAsync();
        }

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, Records);
        Assert.Equal(Records, behind.Distinct);
        Assert.True(flaky.Failures > 0, "some attempts failed");
        Assert.Equal(flaky.Failures, t.Telemetry.Stats.Emitters["faulty"].Retries);
    }

    [Fact]
    public async Task EmitterHangs_EachAttemptIsCutAtAskTimeout_AndItsRecordsAreDroppedAndCounted()
    {
        var control = new CollectingEmitter();
        var stalled = new StalledEmitter();
        await using var t = Start("type = delegate, ask-timeout = 300ms, max-retries-per-batch = 0, buffer-batches = 2, stall-timeout = 200ms", control, new TokenTelemetrySetup().WithEmitter("faulty", stalled));
        Send(t);

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted);
        Assert.True(stalled.Calls >= 1);
    }

    [Fact]
    public async Task AgentDown_RecordsAreDroppedAndCounted_AndTheOtherEmitterIsUnaffected()
    {
        var agent = LoopbackAgent.Reserve();
        var control = new CollectingEmitter();
        await using var t = Start($"type = cloudwatch-agent, endpoint = \"{agent.Endpoint}\", max-retries-per-batch = 1, buffer-batches = 2, stall-timeout = 200ms", control);
        Send(t);

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted);
    }

    [Fact]
    public async Task AgentStoppedAndRestartedOnTheSamePort_TheBatchWaitingMeanwhileIsDelivered_AndNothingIsDropped()
    {
        await using var agent = LoopbackAgent.Start();
        var control = new CollectingEmitter();
        await using var t = Start($"type = cloudwatch-agent, endpoint = \"{agent.Endpoint}\", max-retries-per-batch = 1000, backoff {{ min = 20ms, max = 100ms }}", control);

        Send(t, Records / 2);
        await t.FlushAsync();
        await AwaitAssertAsync(() => Assert.Equal(Records / 2, agent.Lines.Count), Dilated(TimeSpan.FromSeconds(5)));

        // The agent exits: the next records are retried (never counted as delivered while nothing acknowledges them).
        agent.Stop();
        Send(t, Records / 2, Records / 2);
        await AwaitAssertAsync(() => Assert.True(t.Telemetry.Stats.Emitters["faulty"].Retries >= 3), Dilated(TimeSpan.FromSeconds(10)));
        Assert.Equal(Records / 2, t.Telemetry.Stats.Emitters["faulty"].RecordsDelivered);
        await AssertControlGotEverythingAsync(control);

        // It comes back on the same port: the waiting batch goes out on a new connection.
        agent.Restart();
        await t.FlushAsync(TimeSpan.FromSeconds(30));
        await AssertFaultyOutcomeAsync(t, Records);
        await AwaitAssertAsync(
            () => Assert.Equal(Enumerable.Range(0, Records).Select(i => (long)i), agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).Distinct().Order()),
            Dilated(TimeSpan.FromSeconds(10)));
        Assert.True(agent.Connections >= 2, "the emitter reconnected after the restart");
        Assert.Equal(Records, control.Records);
    }

    [Fact]
    public async Task AgentReadsSlowly_TheOtherEmitterIsNotHeldUp_AndNothingIsLostUncounted()
    {
        await using var agent = LoopbackAgent.Start();
        var control = new CollectingEmitter();
        await using var t = Start($"type = cloudwatch-agent, endpoint = \"{agent.Endpoint}\", buffer-batches = 2, stall-timeout = 200ms, ask-timeout = 1s, max-retries-per-batch = 1", control);

        // Big events (40 MB in all) fill the socket buffers while the agent does not read.
        var hook = t.Telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Padding"] = new string('p', 200_000) } });
        agent.PauseReading();
        for (var i = 0; i < Records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await AssertControlGotEverythingAsync(control);
        Assert.Empty(t.Telemetry.Stats.Emitters["control"].RecordsDropped);
        agent.ResumeReading();
        await t.FlushAsync(TimeSpan.FromSeconds(30));
        await AwaitAssertAsync(
            () =>
            {
                // delivered + dropped (stalled buffer, or a batch the agent never acknowledged in time) == sent, and
                // each delivered record really arrived, whole.
                var stats = t.Telemetry.Stats.Emitters["faulty"];
                Output!.WriteLine($"slow reader: delivered {stats.RecordsDelivered}, dropped {string.Join(", ", stats.RecordsDropped)}");
                AssertAccountedFor(stats, Records, DropReasons.BufferFull, DropReasons.RetriesExhausted);
                var arrived = agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).ToHashSet();
                Assert.True(arrived.Count >= stats.RecordsDelivered, $"{stats.RecordsDelivered} counted as delivered, {arrived.Count} arrived");
                Assert.Subset(Enumerable.Range(0, Records).Select(i => (long)i).ToHashSet(), arrived);
            },
            Dilated(TimeSpan.FromSeconds(20)));
        Assert.Equal(Records, control.Records);
    }

    [Fact]
    public async Task AgentResetsTheConnectionMidLine_EveryRecordStillArrivesWhole()
    {
        await using var agent = LoopbackAgent.Start();
        var control = new CollectingEmitter();
        await using var t = Start($"type = cloudwatch-agent, endpoint = \"{agent.Endpoint}\"", control);

        Send(t, Records / 2);
        await t.FlushAsync();
        await AwaitAssertAsync(() => Assert.Equal(Records / 2, agent.Lines.Count), Dilated(TimeSpan.FromSeconds(5)));
        agent.ResetAfter(1_000);
        for (var wave = 0; wave < 10; wave++)
        {
            Send(t, Records / 20, (Records / 2) + (wave * (Records / 20)));
            await t.FlushAsync();
        }

        await AssertControlGotEverythingAsync(control);
        await AwaitAssertAsync(
            () =>
            {
                var arrived = agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).ToHashSet();
                Assert.Equal(Enumerable.Range(0, Records).Select(i => (long)i), arrived.Order());
            },
            Dilated(TimeSpan.FromSeconds(10)));
        Assert.True(agent.Connections >= 2, "the emitter reconnected after the reset");

        // The batch cut by the reset was resent, not dropped: delivered == sent, nothing counted as dropped.
        await AssertFaultyOutcomeAsync(t, Records);
        Assert.Equal(Records, control.Records);
    }

    [Fact]
    public async Task HttpServerAlwaysFails_RecordsAreDroppedAsRetriesExhausted()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(500, "boom"));
        var control = new CollectingEmitter();
        await using var t = Start($"type = http, url = \"{server.Url}\", max-retries-per-batch = 1", control);
        Send(t);

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted);
    }

    [Fact]
    public async Task HttpServerThrottles_WithRetryAfter_EachRetryWaitsTheSecondAsked_AndEveryRecordIsDeliveredOnce()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(429, RetryAfter: "1"), new Reply(429, RetryAfter: "1"), Reply.Ok);
        var control = new CollectingEmitter();

        // Retry-After is honoured up to backoff.max, so that is raised above the second asked for.
        await using var t = Start($"type = http, url = \"{server.Url}\", max-retries-per-batch = 3, backoff {{ min = 10ms, max = 3s }}", control);
        Send(t);
        await t.FlushAsync();

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, Records);
        Assert.Equal(2, t.Telemetry.Stats.Emitters["faulty"].Retries);
        var requests = server.Requests.ToArray();
        for (var i = 1; i <= 2; i++)
        {
            var waited = Stopwatch.GetElapsedTime(requests[i - 1].ReceivedAt, requests[i].ReceivedAt);
            Assert.True(waited >= TimeSpan.FromMilliseconds(950), $"retry {i} came {waited.TotalMilliseconds:0} ms after the 429 that asked for 1 s");
            Assert.True(waited < TimeSpan.FromSeconds(3), $"retry {i} waited {waited.TotalMilliseconds:0} ms, more than backoff.max");
        }

        var delivered = requests.Skip(2).SelectMany(r => EmfAssert.ValidLines(r.Body)).Select(l => l["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(Enumerable.Range(0, Records).Select(i => (long)i), delivered.Order());
    }

    [Fact]
    public async Task HttpServerHangs_TimeoutIsEnforced_AndRecordsAreDroppedAndCounted()
    {
        await using var server = await LoopbackHttpServer.StartAsync(Reply.NeverAnswers);
        var control = new CollectingEmitter();
        await using var t = Start($"type = http, url = \"{server.Url}\", timeout = 200ms, max-retries-per-batch = 1", control);
        Send(t);

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted);
    }

    [Fact]
    public async Task ResolverThrows_RecordsAreEmittedWithTheOtherValues_AndTheFixIsCounted()
    {
        var control = new CollectingEmitter();
        await using var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [control], emitter.control.type = delegate }",
            new TokenTelemetrySetup().WithEmitter("control", control));
        var hook = t.Telemetry.CreateHook(new TokenUsageHookOptions
        {
            Dimensions = [["Model", "Tenant"]],
            DimensionResolver = _ => throw new InvalidOperationException("tenant lookup failed"),
        });
        for (var i = 0; i < Records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        Assert.Equal(Records, control.Records);
        Assert.All(control.Events, e =>
        {
            Assert.Equal("model", e["Model"]!.GetValue<string>());
            Assert.Equal("unknown", e["Tenant"]!.GetValue<string>());
        });
        Assert.Equal(Records, t.Telemetry.Stats.Fixes[FixKinds.ResolverFailed]);
    }

    [Fact]
    public async Task HooksOwnEmitterThrowsSometimes_ThoseEventsAreCountedOnce_AndTheRestDelivered()
    {
        var control = new CollectingEmitter();
        await using var t = TelemetrySystem.Start("akka.token-telemetry { emitters = [control], emitter.control.type = delegate }", new TokenTelemetrySetup().WithEmitter("control", control));
        var received = new List<long>();
        var hook = t.Telemetry.CreateHook(new TokenUsageHookOptions
        {
            Emitter = payload =>
            {
                var seq = payload["seq"]!.GetValue<long>();
                if (seq % 4 == 0)
                {
                    throw new InvalidOperationException("the application's emitter failed");
                }

                lock (received)
                {
                    received.Add(seq);
                }
            },
        });
        for (var i = 0; i < Records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        var stats = t.Telemetry.Stats;
        var branch = stats.Emitters["hook-emitters"];
        Assert.Equal(Records * 3 / 4, received.Count);
        Assert.Equal(Records / 4, stats.RecordsDropped[DropReasons.EmitterError]);
        Assert.Equal(Records * 3 / 4, branch.RecordsDelivered);
        Assert.Equal(stats.RecordsReceived, stats.RecordsDropped.Values.Sum() + branch.RecordsDelivered + branch.RecordsDropped.Values.Sum());
        Assert.Equal(0, control.Records); // a hook with its own emitter sends only there
    }

    /// <summary>A hung emitter ("faulty") beside a healthy one, for the shutdown cases.</summary>
    private static TelemetrySystem StartWithHungEmitter(CountingEmitter control, string shutdownTimeout, string otherHocon = "") =>
        TelemetrySystem.Start(
            $$"""
            akka.token-telemetry {
              emitters = [faulty, control]
              emitter.control.type = delegate
              emitter.faulty { type = delegate, ask-timeout = 100ms, max-retries-per-batch = 0, buffer-batches = 2, stall-timeout = 100ms }
              ingress.buffer-size = 20000
              shutdown-timeout = {{shutdownTimeout}}
            }
            {{otherHocon}}
            """,
            new TokenTelemetrySetup().WithEmitter("control", control).WithEmitter("faulty", new StalledEmitter()));

    /// <summary>
    /// sent == received == dropped before the emitters (queue_full, shutdown) + accepted; the healthy emitter
    /// delivered every accepted record and dropped none; the hung one accounted for every accepted record.
    /// </summary>
    private void AssertShutdownAccounting(TokenTelemetryStats stats, long sent, CountingEmitter control)
    {
        Output!.WriteLine($"sent {sent}, accepted {stats.RecordsAccepted}, dropped before the emitters {string.Join(", ", stats.RecordsDropped)}; hung emitter dropped {string.Join(", ", stats.Emitters["faulty"].RecordsDropped)}");
        Assert.Equal(sent, stats.RecordsReceived);
        Assert.All(stats.RecordsDropped.Keys, reason => Assert.Contains(reason, new[] { DropReasons.QueueFull, DropReasons.Shutdown }));
        Assert.Equal(stats.RecordsReceived, stats.RecordsDropped.Values.Sum() + stats.RecordsAccepted);

        var healthy = stats.Emitters["control"];
        Assert.Empty(healthy.RecordsDropped);
        Assert.Equal(stats.RecordsAccepted, healthy.RecordsDelivered);
        Assert.Equal(healthy.RecordsDelivered, control.Records); // a delivery is never counted without having happened

        var hung = stats.Emitters["faulty"];
        Assert.Equal(0, hung.RecordsDelivered);
        AssertAccountedFor(hung, stats.RecordsAccepted, DropReasons.RetriesExhausted, DropReasons.BufferFull, DropReasons.Shutdown);
    }

    [Fact]
    public async Task ActorSystemTerminatedUnderLoad_TheHookNeverThrows_AndEveryRecordIsAccountedFor()
    {
        var control = new CountingEmitter();
        var t = StartWithHungEmitter(control, "20s", "akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout = 25s");
        var telemetry = t.Telemetry;
        var hook = telemetry.CreateHook();
        using var stop = new CancellationTokenSource();
        var sent = 0L;
        var producer = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                hook.OnAfterInvocation(TelemetrySystem.Invocation(Interlocked.Increment(ref sent)));
            }
        });

        await AwaitAssertAsync(() => Assert.True(control.Records > 1_000), Dilated(TimeSpan.FromSeconds(5)));
        await t.System.Terminate().WaitAsync(Dilated(TimeSpan.FromSeconds(20)));
        await stop.CancelAsync();
        await producer; // it would rethrow anything the hook threw

        // Every record is counted once: delivered, or dropped with a reason. The hung emitter, cut at ask-timeout
        // and dropping when stalled, neither held up the healthy one nor the shutdown.
        var stats = telemetry.Stats;
        Assert.True(stats.RecordsDropped.GetValueOrDefault(DropReasons.Shutdown) >= 1, "the producer kept going after intake stopped");
        AssertShutdownAccounting(stats, Interlocked.Read(ref sent), control);
    }

    [Fact]
    public async Task CoordinatedShutdownDuringABurst_EverythingAcceptedIsDelivered_AndTheRestIsCounted()
    {
        var control = new CountingEmitter();
        var t = StartWithHungEmitter(control, "60s", "akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout = 65s");
        var telemetry = t.Telemetry;
        var log = LogCollector.Attach(t.System);
        var hook = telemetry.CreateHook();
        const int Burst = 200_000;
        var burst = Task.Run(() =>
        {
            for (var i = 0; i < Burst; i++)
            {
                hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
            }
        });

        await AwaitAssertAsync(() => Assert.True(telemetry.Stats.RecordsReceived > 10_000), Dilated(TimeSpan.FromSeconds(5)));
        await CoordinatedShutdown.Get(t.System).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(Dilated(TimeSpan.FromSeconds(70)));
        await burst;

        // Within its budget the drain delivers everything accepted to the healthy emitter; what arrived after intake
        // stopped, or found the ingress full, is counted; the drain did not give up.
        var stats = telemetry.Stats;
        Assert.DoesNotContain(log, m => m.Contains("shutdown gave up", StringComparison.Ordinal) || m.StartsWith("Error", StringComparison.Ordinal));
        Assert.DoesNotContain(DropReasons.Shutdown, stats.Emitters["faulty"].RecordsDropped.Keys);
        AssertShutdownAccounting(stats, Burst, control);
    }
}
