using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Emitters;

/// <summary>The cloudwatch-agent emitter over TCP, against a real listener on 127.0.0.1.</summary>
public class CloudWatchAgentTcpTests(ITestOutputHelper output) : TestKit(output: output)
{
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

        const int N = 2_000;
        for (var i = 0; i < N; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
            if (i == N / 3)
            {
                // Let some go out on the first connection, then restart the agent while records keep coming.
                await AwaitAssertAsync(() => Assert.NotEmpty(agent.Lines), Dilated(TimeSpan.FromSeconds(5)));
                agent.Stop();
            }

            if (i == N / 2)
            {
                agent.Restart();
            }

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

        // 20,000 calls against an endpoint that refuses: each returns at once (the whole loop is done long before
        // a single connection attempt's backoff could end).
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
