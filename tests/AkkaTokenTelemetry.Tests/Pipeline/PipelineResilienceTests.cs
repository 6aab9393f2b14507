using Akka.Actor;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Pipeline;

/// <summary>Slow, stalled and failing emitters: what each loses, what is counted, and that the others are unaffected.</summary>
public class PipelineResilienceTests(ITestOutputHelper output) : TestKit(output: output)
{
    private static TimeSpan MaxDelay => TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task StalledEmitter_DoesNotDelayTheOthers_AndItsDroppedBatchesAreCounted()
    {
        var stalled = new StalledEmitter();
        var collector = new CollectingEmitter();
        await using var t = TelemetrySystem.Start(
            """
            akka.token-telemetry {
              emitters = [stalled, collect]
              emitter.stalled { type = delegate, buffer-batches = 2, ask-timeout = 1s, max-retries-per-batch = 0 }
              emitter.collect.type = delegate
              shutdown-timeout = 1s
            }
            """,
            new TokenTelemetrySetup().WithEmitter("stalled", stalled).WithEmitter("collect", collector));
        var hook = t.Telemetry.CreateHook();

        for (var wave = 1; wave <= 20; wave++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(wave));
            var expected = wave;

            // Every batch reaches the healthy emitter within max-delay + 1 s, whatever the stalled one does.
            await AwaitAssertAsync(() => Assert.Equal(expected, collector.Records), Dilated(MaxDelay + TimeSpan.FromSeconds(1)));
        }

        await AwaitAssertAsync(
            () => Assert.True(t.Telemetry.Stats.Emitters["stalled"].RecordsDropped.GetValueOrDefault(DropReasons.BufferFull) > 0, "the stalled branch drops from its full buffer"),
            Dilated(TimeSpan.FromSeconds(5)));
        Assert.True(stalled.Calls >= 1);
        Assert.Equal(20, t.Telemetry.Stats.Emitters["collect"].RecordsDelivered);
        Assert.Empty(t.Telemetry.Stats.Emitters["collect"].RecordsDropped);
    }

    [Fact]
    public async Task EmitterThatFailsTwiceThenSucceeds_LosesNothing()
    {
        var collector = new CollectingEmitter();
        var flaky = new FailingEmitter(2, collector);
        await using var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [flaky], emitter.flaky { type = delegate, max-retries-per-batch = 3 } }",
            new TokenTelemetrySetup().WithEmitter("flaky", flaky));
        var hook = t.Telemetry.CreateHook();

        for (var i = 0; i < 20; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();

        Assert.Equal(20, collector.Records);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), collector.Events.Select(e => e["seq"]!.GetValue<long>()).Order());
        var stats = t.Telemetry.Stats.Emitters["flaky"];
        Assert.Equal(2, stats.Retries);
        Assert.Equal(20, stats.RecordsDelivered);
        Assert.Empty(stats.RecordsDropped);
    }

    [Fact]
    public async Task EmitterRestarts_LoseNoBatchOnTheWay_EachFailedBatchIsSettledAfterOneBackoff()
    {
        // Every batch fails and restarts the emitter; the next batch must reach the fresh emitter after the
        // backoff (at most 60 ms here), not vanish with the old one, which would leave the branch waiting out its
        // ask budget (over 10 s with this ask-timeout) before asking again.
        var broken = new FailingEmitter(-1);
        await using var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [broken], batch.max-records = 1, emitter.broken { type = delegate, max-retries-per-batch = 0, ask-timeout = 10s } }",
            new TokenTelemetrySetup().WithEmitter("broken", broken));
        var hook = t.Telemetry.CreateHook();
        for (var i = 0; i < 40; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await AwaitAssertAsync(
            () =>
            {
                var stats = t.Telemetry.Stats.Emitters["broken"];
                Assert.Equal(40, stats.RecordsDropped.GetValueOrDefault(DropReasons.RetriesExhausted));
                Assert.True(stats.Restarts >= 39, $"{stats.Restarts} restarts");
            },
            Dilated(TimeSpan.FromSeconds(8)));
        Assert.Equal(40, broken.Calls);
        Assert.DoesNotContain(DropReasons.EmitTimeout, t.Telemetry.Stats.Emitters["broken"].RecordsDropped.Keys);
    }

    [Fact]
    public async Task EmitterThatAlwaysFails_ExhaustsItsRetries_IsCounted_AndTheOthersGetEverything()
    {
        var broken = new FailingEmitter(-1);
        var collector = new CollectingEmitter();
        await using var t = TelemetrySystem.Start(
            """
            akka.token-telemetry {
              emitters = [broken, collect]
              emitter.broken { type = delegate, max-retries-per-batch = 2 }
              emitter.collect.type = delegate
            }
            """,
            new TokenTelemetrySetup().WithEmitter("broken", broken).WithEmitter("collect", collector));
        var hook = t.Telemetry.CreateHook();

        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < 10; i++)
            {
                hook.OnAfterInvocation(TelemetrySystem.Invocation((round * 10) + i));
            }

            await t.FlushAsync();
            Assert.Equal((round + 1) * 10, collector.Records); // later records still flow
        }

        var stats = t.Telemetry.Stats.Emitters["broken"];
        Output?.WriteLine($"dropped {string.Join(",", stats.RecordsDropped)} batches {string.Join(",", stats.BatchesDropped)} retries {stats.Retries} restarts {stats.Restarts} calls {broken.Calls}");
        Assert.Equal(30, stats.RecordsDropped[DropReasons.RetriesExhausted]);
        Assert.Equal(0, stats.RecordsDelivered);
        Assert.Equal(stats.BatchesDropped[DropReasons.RetriesExhausted] * 2, stats.Retries); // 2 retries per batch
        Assert.Equal(stats.BatchesDropped[DropReasons.RetriesExhausted] * 3, broken.Calls);
        Assert.True(stats.Restarts >= 1, "the failed emitter is restarted by its backoff supervisor");
        Assert.Equal(30, t.Telemetry.Stats.Emitters["collect"].RecordsDelivered);
    }

    [Fact]
    public async Task HundredThousandRecordsThenCoordinatedShutdown_EveryRecordExactlyOnce()
    {
        const int records = 100_000;
        var sequence = new SequenceEmitter();
        var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [seq], emitter.seq.type = delegate }",
            new TokenTelemetrySetup().WithEmitter("seq", sequence));
        var hook = t.Telemetry.CreateHook();

        for (var i = 0; i < records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await CoordinatedShutdown.Get(t.System).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(TimeSpan.FromSeconds(30));

        var s = t.Telemetry.Stats;
        Output?.WriteLine($"received {s.RecordsReceived} accepted {s.RecordsAccepted} dropped {string.Join(",", s.RecordsDropped)} delivered {s.Emitters["seq"].RecordsDelivered} edropped {string.Join(",", s.Emitters["seq"].RecordsDropped)}");
        Assert.Equal(records, sequence.Records);
        Assert.Equal(records, sequence.Distinct);
        Assert.Equal(0, sequence.Duplicates);
        var stats = t.Telemetry.Stats;
        Assert.Equal(records, stats.RecordsReceived);
        Assert.Equal(records, stats.RecordsAccepted);
        Assert.Equal(0, stats.RecordsDroppedTotal);
        await t.DisposeAsync();
    }

    [Fact]
    public async Task FlushAsync_ReturnsOnlyAfterEverythingAcceptedBeforeItWasDelivered()
    {
        var collector = new CollectingEmitter();
        var slow = new SlowEmitter(TimeSpan.FromMilliseconds(20), collector);
        await using var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [slow], emitter.slow.type = delegate, batch.max-records = 50 }",
            new TokenTelemetrySetup().WithEmitter("slow", slow));
        var hook = t.Telemetry.CreateHook();

        for (var i = 0; i < 1000; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();

        // No waiting: the flush itself guarantees delivery.
        Assert.Equal(1000, collector.Records);
    }

    [Fact]
    public async Task FlushAsync_IsBoundedByItsToken()
    {
        var stalled = new StalledEmitter();
        await using var t = TelemetrySystem.Start(
            """
            akka.token-telemetry {
              emitters = [stalled]
              emitter.stalled { type = delegate, ask-timeout = 30s }
              shutdown-timeout = 1s
            }
            """,
            new TokenTelemetrySetup().WithEmitter("stalled", stalled));
        t.Telemetry.CreateHook().OnAfterInvocation(TelemetrySystem.Invocation(1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Telemetry.FlushAsync(new CancellationTokenSource(TimeSpan.FromMilliseconds(300)).Token));
    }

    [Fact]
    public async Task IngressFull_RecordsAreDroppedAndCountedAsQueueFull_AndEveryRecordIsAccountedFor()
    {
        const int records = 50_000;
        var collector = new SequenceEmitter();
        await using var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [seq], emitter.seq.type = delegate, ingress.buffer-size = 100 }",
            new TokenTelemetrySetup().WithEmitter("seq", collector));
        var hook = t.Telemetry.CreateHook();

        for (var i = 0; i < records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        var stats = t.Telemetry.Stats;
        Assert.Equal(records, stats.RecordsReceived);
        Assert.True(stats.RecordsDropped.GetValueOrDefault(DropReasons.QueueFull) > 0, "a burst far over ingress.buffer-size drops");
        Assert.Equal(records, stats.RecordsAccepted + stats.RecordsDropped[DropReasons.QueueFull]);
        Assert.Equal(stats.RecordsAccepted, collector.Records);
        Assert.Equal(0, collector.Duplicates);
    }

    [Fact]
    public async Task EmitterThatHangsIgnoringItsToken_IsCutAtAskTimeout_AndDeliveryResumesWhenItRecovers()
    {
        var emitter = new HangsOnceEmitter();
        await using var t = TelemetrySystem.Start(
            """
            akka.token-telemetry {
              emitters = [slow]
              emitter.slow { type = delegate, ask-timeout = 200ms, max-retries-per-batch = 1 }
              shutdown-timeout = 2s
            }
            """,
            new TokenTelemetrySetup().WithEmitter("slow", emitter));
        var hook = t.Telemetry.CreateHook();

        hook.OnAfterInvocation(TelemetrySystem.Invocation(1));
        await AwaitConditionAsync(() => Task.FromResult(emitter.Calls >= 1), Dilated(TimeSpan.FromSeconds(10)));
        emitter.Release();
        hook.OnAfterInvocation(TelemetrySystem.Invocation(2));
        await t.FlushAsync();

        var stats = t.Telemetry.Stats.Emitters["slow"];
        Assert.Equal(2, stats.RecordsDelivered + stats.RecordsDroppedTotal); // each record settled exactly once
        Assert.True(stats.RecordsDelivered >= 1, "delivery resumes once the emitter answers again");
    }

    /// <summary>Hangs on its first call, ignoring its token, until released; answers at once afterwards.</summary>
    private sealed class HangsOnceEmitter : IEmfEmitter
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void Release() => _release.TrySetResult();

        public async ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                await _release.Task; // ignores the token on purpose
            }
        }
    }

    [Fact]
    public async Task OnAfterInvocation_AfterTheSystemTerminated_DoesNotThrow_AndIsCountedAsShutdown()
    {
        var t = TelemetrySystem.Start("akka.token-telemetry { emitters = [null] }");
        var hook = t.Telemetry.CreateHook();
        await t.System.Terminate();

        hook.OnAfterInvocation(TelemetrySystem.Invocation(1));
        hook.OnAfterInvocation(TelemetrySystem.Invocation(2));

        Assert.Equal(2, t.Telemetry.Stats.RecordsDropped[DropReasons.Shutdown]);
    }

    [Fact]
    public async Task ShutdownWithAStalledEmitter_FinishesWithinShutdownTimeout_AndCountsWhatWasNotDelivered()
    {
        var stalled = new StalledEmitter();
        var t = TelemetrySystem.Start(
            """
            akka.token-telemetry {
              emitters = [stalled]
              emitter.stalled { type = delegate, ask-timeout = 30s }
              shutdown-timeout = 1s
            }
            """,
            new TokenTelemetrySetup().WithEmitter("stalled", stalled));
        var hook = t.Telemetry.CreateHook();
        for (var i = 0; i < 10; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await AwaitConditionAsync(() => Task.FromResult(stalled.Calls > 0), Dilated(TimeSpan.FromSeconds(5)));
        await t.System.Terminate().WaitAsync(Dilated(TimeSpan.FromSeconds(10)));

        var stats = t.Telemetry.Stats.Emitters["stalled"];
        Assert.Equal(10, stats.RecordsDropped[DropReasons.Shutdown]);
    }
}
