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

    /// <summary>Every record the faulty emitter was given is delivered or dropped under one of <paramref name="reasons"/>.</summary>
    private async Task AssertFaultyOutcomeAsync(TelemetrySystem t, long delivered, params string[] reasons)
    {
        await AwaitAssertAsync(
            () =>
            {
                var stats = t.Telemetry.Stats.Emitters["faulty"];
                Assert.Equal(delivered, stats.RecordsDelivered);
                Assert.Equal(Records - delivered, stats.RecordsDropped.Values.Sum());
                Assert.All(stats.RecordsDropped.Keys, reason => Assert.Contains(reason, reasons));
            },
            Dilated(TimeSpan.FromSeconds(20)));
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
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted, DropReasons.BufferFull);
        await AwaitAssertAsync(() => Assert.True(t.Telemetry.Stats.Emitters["faulty"].Restarts >= 1, "the sink is restarted after its backoff"), Dilated(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task EmitterThrowsSometimes_RetriesDeliverEveryRecord()
    {
        var control = new CollectingEmitter();
        var behind = new SequenceEmitter();
        var flaky = new FlakyEmitter(0.3, seed: 7, behind);
        await using var t = Start("type = delegate, max-retries-per-batch = 8, batch.max-records = 20", control, new TokenTelemetrySetup().WithEmitter("faulty", flaky));
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
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted, DropReasons.BufferFull, DropReasons.EmitTimeout);
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
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted, DropReasons.BufferFull);
    }

    [Fact]
    public async Task AgentReadsSlowly_TheOtherEmitterIsNotHeldUp_AndNothingIsLostUncounted()
    {
        await using var agent = LoopbackAgent.Start();
        var control = new CollectingEmitter();
        await using var t = Start($"type = cloudwatch-agent, endpoint = \"{agent.Endpoint}\", buffer-batches = 2, stall-timeout = 200ms, ask-timeout = 1s, max-retries-per-batch = 1", control);

        // Big events fill the socket buffers while the agent does not read.
        var hook = t.Telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Padding"] = new string('p', 20_000) } });
        agent.PauseReading();
        for (var i = 0; i < Records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await AssertControlGotEverythingAsync(control);
        agent.ResumeReading();
        await AwaitAssertAsync(
            () =>
            {
                var stats = t.Telemetry.Stats.Emitters["faulty"];
                Assert.Equal(Records, stats.RecordsDelivered + stats.RecordsDropped.Values.Sum());
                Assert.All(stats.RecordsDropped.Keys, reason => Assert.Contains(reason, new[] { DropReasons.BufferFull, DropReasons.RetriesExhausted }));
                Assert.True(agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).Distinct().Count() >= stats.RecordsDelivered);
            },
            Dilated(TimeSpan.FromSeconds(20)));
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
    }

    [Fact]
    public async Task HttpServerAlwaysFails_RecordsAreDroppedAsRetriesExhausted()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(500, "boom"));
        var control = new CollectingEmitter();
        await using var t = Start($"type = http, url = \"{server.Url}\", max-retries-per-batch = 1", control);
        Send(t);

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted, DropReasons.BufferFull);
    }

    [Fact]
    public async Task HttpServerThrottles_WithRetryAfter_EveryRecordIsDeliveredOnce()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(429, RetryAfter: "0"), new Reply(429, RetryAfter: "0"), Reply.Ok);
        var control = new CollectingEmitter();
        await using var t = Start($"type = http, url = \"{server.Url}\", max-retries-per-batch = 3", control);
        Send(t);
        await t.FlushAsync();

        await AssertControlGotEverythingAsync(control);
        await AssertFaultyOutcomeAsync(t, Records);
        var delivered = server.Requests.Skip(2).SelectMany(r => EmfAssert.ValidLines(r.Body)).Select(l => l["seq"]!.GetValue<long>()).ToList();
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
        await AssertFaultyOutcomeAsync(t, 0, DropReasons.RetriesExhausted, DropReasons.BufferFull);
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

    [Fact]
    public async Task ActorSystemTerminatedUnderLoad_TheHookNeverThrows_AndEveryRecordIsAccountedFor()
    {
        var control = new CountingEmitter();
        var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [control], emitter.control.type = delegate, shutdown-timeout = 2s }",
            new TokenTelemetrySetup().WithEmitter("control", control));
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

        // Whether or not the drain finished within shutdown-timeout, every record is counted once: delivered,
        // or dropped with a reason (what was still in flight when the budget ran out counts as shutdown).
        var stats = telemetry.Stats;
        var branch = stats.Emitters["control"];
        Assert.Equal(stats.RecordsReceived, stats.RecordsDropped.Values.Sum() + branch.RecordsDelivered + branch.RecordsDropped.Values.Sum());
        Assert.True(control.Records >= branch.RecordsDelivered, "a delivery is never counted without having happened");
        Assert.Equal(Interlocked.Read(ref sent), stats.RecordsReceived);
    }

    [Fact]
    public async Task CoordinatedShutdownDuringABurst_EverythingAcceptedIsDelivered_AndTheRestIsCounted()
    {
        var control = new CountingEmitter();
        var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [control], emitter.control.type = delegate, shutdown-timeout = 60s }\nakka.coordinated-shutdown.phases.before-actor-system-terminate.timeout = 65s",
            new TokenTelemetrySetup().WithEmitter("control", control));
        var telemetry = t.Telemetry;
        var log = LogCollector.Attach(t.System);
        var hook = telemetry.CreateHook();
        var burst = Task.Run(() =>
        {
            for (var i = 0; i < 200_000; i++)
            {
                hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
            }
        });

        await AwaitAssertAsync(() => Assert.True(telemetry.Stats.RecordsReceived > 10_000), Dilated(TimeSpan.FromSeconds(5)));
        await CoordinatedShutdown.Get(t.System).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(Dilated(TimeSpan.FromSeconds(70)));
        await burst;

        // Within its budget the drain delivers everything accepted; what arrived after intake stopped, or found the
        // ingress full, is counted.
        var stats = telemetry.Stats;
        Assert.True(log.IsEmpty, string.Join("\n", log));
        var branch = stats.Emitters["control"];
        Assert.Equal(stats.RecordsAccepted, control.Records);
        Assert.Equal(control.Records, branch.RecordsDelivered);
        Assert.Empty(branch.RecordsDropped);
        Assert.Equal(stats.RecordsReceived, stats.RecordsDropped.Values.Sum() + branch.RecordsDelivered);
        Assert.All(stats.RecordsDropped.Keys, reason => Assert.Contains(reason, new[] { DropReasons.QueueFull, DropReasons.Shutdown }));
    }
}
