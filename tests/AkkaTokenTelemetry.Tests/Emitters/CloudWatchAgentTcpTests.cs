using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Emitters;

/// <summary>The cloudwatch-agent emitter over TCP, against a real listener on 127.0.0.1.</summary>
public class CloudWatchAgentTcpTests(ITestOutputHelper output) : TestKit(output: output)
{
    /// <summary>Sends <paramref name="count"/> records that the agent's host acknowledges but the agent never reads, then stops the agent.</summary>
    private static async Task SendUnreadAndStopAgentAsync(TelemetrySystem t, LoopbackAgent agent, int count)
    {
        var hook = t.Telemetry.CreateHook();
        agent.PauseReading();
        for (var i = 0; i < count; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        agent.Stop();
    }

    private static string Hocon(string endpoint, string extra = "") => $$"""
        akka.token-telemetry {
          emitters = [agent]
          emitter.agent {
            type = cloudwatch-agent
            endpoint = "{{endpoint}}"
            log-group-name = "token-usage-test"
            {{extra}}
          }
        }
        """;

    [Fact]
    public async Task EveryLineIsValidEmf_WithLogGroupName_AndNonAsciiTextArrivesIntact()
    {
        await using var agent = LoopbackAgent.Start();
        await using var t = TelemetrySystem.Start(Hocon(agent.Endpoint, "log-stream-name = \"worker-1\""));
        var hook = t.Telemetry.CreateHook(new TokenUsageHookOptions
        {
            ExtraProperties = new Dictionary<string, object?> { ["Greeting"] = "héllo ✓ 東京" },
        });

        const int N = 300;
        for (var i = 0; i < N; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        await AwaitAssertAsync(() => Assert.Equal(N, agent.Lines.Count), Dilated(TimeSpan.FromSeconds(5)));

        var seqs = new List<long>();
        foreach (var line in agent.Lines)
        {
            var root = EmfAssert.ValidLine(line);
            var aws = root["_aws"]!.AsObject();
            Assert.Equal("token-usage-test", aws["LogGroupName"]!.GetValue<string>());
            Assert.Equal("worker-1", aws["LogStreamName"]!.GetValue<string>());
            Assert.Equal("héllo ✓ 東京", root["Greeting"]!.GetValue<string>());
            seqs.Add(root["seq"]!.GetValue<long>());
        }

        // The raw bytes on the wire are UTF-8 (the listener decoded them as UTF-8 above), not escapes or '?'.
        Assert.Contains("héllo ✓ 東京", agent.Lines.First(), StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(0, N).Select(i => (long)i), seqs.Order());
        Assert.Equal(N, t.Telemetry.Stats.Emitters["agent"].RecordsDelivered);
        Assert.Equal(1, agent.Connections);
    }

    [Fact]
    public async Task AgentRestartMidStream_EveryRecordArrivesAtLeastOnce()
    {
        await using var agent = LoopbackAgent.Start();
        await using var t = TelemetrySystem.Start(Hocon(agent.Endpoint));
        var hook = t.Telemetry.CreateHook();

        // The first third goes out and is read.
        const int N = 2_000;
        for (var i = 0; i < 600; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        await AwaitAssertAsync(() => Assert.Equal(600, agent.Lines.Count), Dilated(TimeSpan.FromSeconds(5)));

        // The agent stops reading: the next 100 are acknowledged by its host (they fit its receive buffer) but never
        // read, and the agent then exits, losing them, as an agent restart does.
        agent.PauseReading();
        for (var i = 600; i < 700; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        Assert.Equal(600, agent.Lines.Count);
        agent.Stop();
        agent.ResumeReading();
        agent.Restart();

        // Records keep coming after the restart.
        for (var i = 700; i < N; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
            if (i % 100 == 0)
            {
                await Task.Yield();
            }
        }

        await t.FlushAsync(TimeSpan.FromSeconds(30));

        await AwaitAssertAsync(
            () =>
            {
                var arrived = agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).ToHashSet();
                var missing = Enumerable.Range(0, N).Where(i => !arrived.Contains(i)).ToList();
                Assert.True(missing.Count == 0, $"{missing.Count} records never arrived, e.g. {string.Join(", ", missing.Take(10))}");
            },
            Dilated(TimeSpan.FromSeconds(10)));
        Assert.True(agent.Connections >= 2, "the emitter reconnected after the restart");
        var stats = t.Telemetry.Stats;
        Assert.Equal(N, stats.Emitters["agent"].RecordsDelivered);
        Assert.Empty(stats.Emitters["agent"].RecordsDropped);
    }

    [Fact]
    public async Task AgentRestartAfterTheLastBatch_WhatItHadNotReadIsResentWithoutWaitingForAnotherBatch()
    {
        await using var agent = LoopbackAgent.Start();
        await using var t = TelemetrySystem.Start(Hocon(agent.Endpoint, "resend-window = 1s"));
        await SendUnreadAndStopAgentAsync(t, agent, 50);
        agent.ResumeReading();
        agent.Restart();

        // No record follows: the idle check notices the closed connection, reconnects and resends.
        await AwaitAssertAsync(
            () => Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).Order()),
            Dilated(TimeSpan.FromSeconds(10)));
        Assert.Equal(50, t.Telemetry.Stats.Emitters["agent"].RecordsDelivered);
    }

    [Fact]
    public async Task AWriteTheAgentNeverAcknowledges_IsNotCountedAsDelivered_UntilItIsResentAndAcknowledged()
    {
        await using var agent = LoopbackAgent.Start();
        await using var t = TelemetrySystem.Start(Hocon(agent.Endpoint, "max-retries-per-batch = 1000, backoff { min = 20ms, max = 100ms }"));
        var hook = t.Telemetry.CreateHook();
        for (var i = 0; i < 10; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        Assert.Equal(10, t.Telemetry.Stats.Emitters["agent"].RecordsDelivered);

        // The agent is gone: the next batch is retried, and never counted as delivered while nothing acknowledges it.
        agent.Stop();
        for (var i = 10; i < 20; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await AwaitAssertAsync(() => Assert.True(t.Telemetry.Stats.Emitters["agent"].Retries >= 3), Dilated(TimeSpan.FromSeconds(10)));
        Assert.Equal(10, t.Telemetry.Stats.Emitters["agent"].RecordsDelivered);

        // The agent is back: the batch is acknowledged on the new connection (after what the old one may have lost:
        // at least once, so the first ten may arrive twice).
        agent.Restart();
        await t.FlushAsync(TimeSpan.FromSeconds(30));
        await AwaitAssertAsync(
            () => Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).Distinct().Order()),
            Dilated(TimeSpan.FromSeconds(10)));
        var stats = t.Telemetry.Stats.Emitters["agent"];
        Assert.Equal(20, stats.RecordsDelivered);
        Assert.Empty(stats.RecordsDropped);
    }

    [Fact]
    public async Task APeerThatStopsAcknowledging_IsResetAfterUnacknowledgedTimeout_AndWhatItHeldIsSentAgain()
    {
        await using var agent = LoopbackAgent.Start();
        await using var t = TelemetrySystem.Start(Hocon(agent.Endpoint, "unacknowledged-timeout = 1s, resend-window = 10s, resend-buffer = 64MiB, max-retries-per-batch = 20"));
        var log = LogCollector.Attach(t.System);

        // 20 MB the agent does not read: more than the socket buffers hold, so written bytes stay unacknowledged
        // (the kernel's zero window), as they would with a peer that vanished.
        const int Sent = 100;
        var hook = t.Telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Padding"] = new string('p', 200_000) } });
        agent.PauseReading();
        for (var i = 0; i < Sent; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await AwaitAssertAsync(
            () =>
            {
                Assert.Contains(log, m => m.Contains("acknowledged nothing for", StringComparison.Ordinal));
                Assert.True(agent.Connections >= 2, $"{agent.Connections} connections: the stalled one was not replaced");
            },
            Dilated(TimeSpan.FromSeconds(15)));
        Assert.Empty(t.Telemetry.Stats.Emitters["agent"].RecordsDropped); // a reset is a retry, not a loss

        // The agent reads again: every record arrives (at least once), each counted delivered once, none dropped.
        agent.ResumeReading();
        await t.FlushAsync(TimeSpan.FromSeconds(60));
        var stats = t.Telemetry.Stats.Emitters["agent"];
        Assert.Equal(Sent, stats.RecordsDelivered);
        Assert.Empty(stats.RecordsDropped);
        await AwaitAssertAsync(
            () => Assert.Equal(Enumerable.Range(0, Sent).Select(i => (long)i), agent.Lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).Distinct().Order()),
            Dilated(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AnEventOver256KiB_LosesItsLargestPropertiesFirst_AndStillArrives()
    {
        await using var agent = LoopbackAgent.Start();
        await using var t = TelemetrySystem.Start(Hocon(agent.Endpoint));
        var hook = t.Telemetry.CreateHook(new TokenUsageHookOptions
        {
            ExtraProperties = new Dictionary<string, object?>
            {
                ["Transcript"] = new string('x', 300 * 1024),
                ["SessionId"] = "sess-42",
            },
        });

        hook.OnAfterInvocation(TelemetrySystem.Invocation(7));
        await t.FlushAsync();

        await AwaitAssertAsync(() => Assert.Single(agent.Lines), Dilated(TimeSpan.FromSeconds(5)));
        var line = agent.Lines.Single();
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(line) <= 256 * 1024, $"{line.Length} characters");
        var root = EmfAssert.ValidLine(line);
        Assert.Null(root["Transcript"]);
        Assert.Equal("sess-42", root["SessionId"]!.GetValue<string>());
        Assert.Equal(7, root["seq"]!.GetValue<long>());
        var stats = t.Telemetry.Stats;
        Assert.Equal(1, stats.Fixes[FixKinds.PropertiesTrimmed]);
        Assert.Equal(1, stats.Emitters["agent"].RecordsDelivered);
    }

    [Fact]
    public async Task Shutdown_WaitsForTheAgentToReadWhatItWasSent()
    {
        await using var agent = LoopbackAgent.Start();
        var t = TelemetrySystem.Start(Hocon(agent.Endpoint));
        var log = LogCollector.Attach(t.System);
        var hook = t.Telemetry.CreateHook();
        for (var i = 0; i < 500; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.System.Terminate().WaitAsync(Dilated(TimeSpan.FromSeconds(15)));

        // Every line was read before the emitter let go of the connection: nothing is left to arrive later.
        Assert.Equal(500, agent.Lines.Count);
        Assert.Equal(500, t.Telemetry.Stats.Emitters["agent"].RecordsDelivered);
        Assert.DoesNotContain(log, m => m.Contains("may not have arrived", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ShutdownAfterTheAgentDiedWithUnreadRecords_LogsHowManyMayNotHaveArrived()
    {
        await using var agent = LoopbackAgent.Start();
        var t = TelemetrySystem.Start(Hocon(agent.Endpoint));
        var log = LogCollector.Attach(t.System);
        await SendUnreadAndStopAgentAsync(t, agent, 50);

        await t.System.Terminate().WaitAsync(Dilated(TimeSpan.FromSeconds(15)));

        Assert.Empty(agent.Lines);
        Assert.Contains(log, m => m.Contains("the last 50 records", StringComparison.Ordinal) && m.Contains("may not have arrived", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EndpointRefusingConnections_HookNeverBlocks_MemoryIsBounded_DropsAreCounted_AndDeliveryResumes()
    {
        var agent = LoopbackAgent.Reserve();
        await using var t = TelemetrySystem.Start(
            Hocon(agent.Endpoint, "buffer-batches = 4, max-retries-per-batch = 1") +
            """

            akka.token-telemetry {
              ingress.buffer-size = 1000
              batch.max-records = 50
            }
            """);
        var hook = t.Telemetry.CreateHook();

        // 20,000 calls against an endpoint that refuses: the hook only hands each record over, so the loop never
        // waits for the emitter (waiting for it would cost at least one retry backoff, 200 ms less jitter, per batch of 50:
        // over a minute for the loop). The bound is loose enough for a slow machine and far below that.
        const int Sent = 20_000;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Sent; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        clock.Stop();
        Assert.True(clock.Elapsed < Dilated(TimeSpan.FromSeconds(5)), $"20,000 hook calls took {clock.Elapsed}");

        // What is held is bounded: the router's mailbox and the ingress (1,000 records each), the branch buffer
        // (4 batches of 50), the stream's internal buffers (16 batches) and the batches in hand. Every other record
        // is counted as dropped — also after a second wave of 20,000.
        const int Bound = 1_000 + 1_000 + ((4 + 16 + 2) * 50);
        for (var wave = 1; wave <= 2; wave++)
        {
            if (wave == 2)
            {
                for (var i = 0; i < Sent; i++)
                {
                    hook.OnAfterInvocation(TelemetrySystem.Invocation(Sent + i));
                }
            }

            var expectedSent = wave * Sent;
            await AwaitAssertAsync(
                () =>
                {
                    var stats = t.Telemetry.Stats;
                    Assert.Equal(expectedSent, stats.RecordsReceived);
                    var dropped = stats.RecordsDropped.Values.Sum() + stats.Emitters["agent"].RecordsDropped.Values.Sum();
                    Assert.True(expectedSent - dropped <= Bound, $"{expectedSent - dropped} records held while the endpoint is down; {Describe(stats)}");
                    Assert.True(stats.RecordsDropped.GetValueOrDefault(DropReasons.QueueFull) > 0, "a full ingress counts its drops");
                },
                Dilated(TimeSpan.FromSeconds(10)));
        }

        Assert.Empty(agent.Lines);

        // The agent appears: delivery resumes without any restart of ours. What was held drains to it...
        agent.Restart();
        await using var _ = agent;
        await AwaitAssertAsync(
            () =>
            {
                var stats = t.Telemetry.Stats;
                var agentStats = stats.Emitters["agent"];
                Assert.True(agentStats.RecordsDelivered > 0, Describe(stats));
                Assert.Equal(stats.RecordsAccepted, agentStats.RecordsDelivered + agentStats.RecordsDropped.Values.Sum());
            },
            Dilated(TimeSpan.FromSeconds(30)));

        // ...and a new record goes straight through.
        hook.OnAfterInvocation(TelemetrySystem.Invocation(1_000_000));
        await AwaitAssertAsync(
            () => Assert.Contains(agent.Lines, l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>() == 1_000_000),
            Dilated(TimeSpan.FromSeconds(10)));
        Assert.All(agent.Lines, l => EmfAssert.ValidLine(l));
    }

    [Fact]
    public async Task ShutdownWhileTheAgentIsDown_FinishesWithinShutdownTimeout_AndLogsWhatWasNotDelivered()
    {
        var agent = LoopbackAgent.Reserve();
        var t = TelemetrySystem.Start(
            Hocon(agent.Endpoint, "max-retries-per-batch = 100, backoff { min = 100ms, max = 200ms }") +
            "\nakka.token-telemetry.shutdown-timeout = 2s");
        var log = LogCollector.Attach(t.System);
        var hook = t.Telemetry.CreateHook();
        for (var i = 0; i < 100; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await AwaitAssertAsync(() => Assert.Equal(100, t.Telemetry.Stats.RecordsAccepted), Dilated(TimeSpan.FromSeconds(5)));
        var clock = Stopwatch.StartNew();
        await CoordinatedShutdown.Get(t.System).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(Dilated(TimeSpan.FromSeconds(15)));
        clock.Stop();

        // shutdown-timeout (2 s) plus the rest of CoordinatedShutdown; far from hanging on the dead endpoint.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2) + Dilated(TimeSpan.FromSeconds(3)), $"shutdown took {clock.Elapsed}");
        Assert.True(log.Any(m => m.Contains("100 records were not delivered", StringComparison.Ordinal)), string.Join("\n", log));
        Assert.Equal(100, t.Telemetry.Stats.Emitters["agent"].RecordsDropped.GetValueOrDefault(DropReasons.Shutdown));
    }

    private static string Describe(TokenTelemetryStats s) =>
        $"received {s.RecordsReceived} accepted {s.RecordsAccepted} dropped [{string.Join(",", s.RecordsDropped)}] agent delivered {s.Emitters["agent"].RecordsDelivered} dropped [{string.Join(",", s.Emitters["agent"].RecordsDropped)}] restarts {s.Emitters["agent"].Restarts}";
}
