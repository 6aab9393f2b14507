using System.Collections.Concurrent;
using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.DependencyInjection;
using Akka.Event;
using Akka.Pattern;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry;

/// <summary>
/// Builds and owns the running pipeline of one actor system: the emitter sink actors (each under a backoff
/// supervisor), the two stream graphs (HOCON emitters, and hooks with their own emitter) materialized on the system
/// materializer, and the router. Also flush and the bounded, graceful drain.
/// </summary>
internal sealed class TelemetryPipeline
{
    /// <summary>The name hooks with their own emitter appear under in <see cref="TokenTelemetryStats.Emitters"/>.</summary>
    public const string HookEmittersName = "hook-emitters";

    private readonly ActorSystem _system;
    private readonly TokenTelemetrySetup? _setup;
    private readonly ConcurrentDictionary<FlushMarker, byte> _pendingMarkers = new();
    private readonly List<(string Name, TelemetryCounters.EmitterCounters Counters, bool Hooks)> _branches = [];
    private readonly SharedKillSwitch _killSwitch = KillSwitches.Shared("token-telemetry");
    /// <summary>Emitters that live as long as the pipeline (not replaced when their sink restarts them).</summary>
    private readonly List<object> _sharedEmitters = [];
    private Channel<IngressItem> _main = null!;
    private Channel<IngressItem> _hooks = null!;
    private int _mainBranches;
    private int _accepting = 1;
    private int _ingressCompleted;
    private Task _drain = Task.CompletedTask;
    private int _drainStarted;

    public TelemetryPipeline(ActorSystem system, TokenTelemetrySettings settings, TokenTelemetrySetup? setup, TimeProvider time)
    {
        _system = system;
        Settings = settings;
        _setup = setup;
        Time = time;
        Counters = new TelemetryCounters(system.Name);
        Log = Logging.GetLogger(system, "AkkaTokenTelemetry");
    }

    public TokenTelemetrySettings Settings { get; }

    public TelemetryCounters Counters { get; }

    public TimeProvider Time { get; }

    public ILoggingAdapter Log { get; }

    public IActorRef Router { get; private set; } = ActorRefs.Nobody;

    public ChannelWriter<IngressItem> MainIngress => _main.Writer;

    public ChannelWriter<IngressItem> HookIngress => _hooks.Writer;

    /// <summary>False once shutdown has started (or the system terminated): hooks drop and count from then on.</summary>
    public bool IsAcceptingRecords => Volatile.Read(ref _accepting) == 1;

    public bool IsIngressCompleted => Volatile.Read(ref _ingressCompleted) == 1;

    /// <summary>
    /// Claims a place for one record in the router's mailbox. The mailbox itself is unbounded, so the hooks bound
    /// it: at most <c>ingress.buffer-size</c> records wait there; beyond that the record is dropped (counted as
    /// <c>queue_full</c>) instead of growing memory without limit.
    /// </summary>
    public bool TryEnterMailbox()
    {
        if (Interlocked.Increment(ref _mailboxPending.Value) <= Settings.IngressBufferSize)
        {
            return true;
        }

        Interlocked.Decrement(ref _mailboxPending.Value);
        return false;
    }

    /// <summary>The router took one record out of its mailbox.</summary>
    public void LeftMailbox() => Interlocked.Decrement(ref _mailboxPending.Value);

    private PaddedLong _mailboxPending;

    /// <summary>Completes when every branch of both graphs has finished.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Resolves emitters, starts the sinks, materializes the graphs and starts the router.</summary>
    public void Start()
    {
        var mainSinks = new List<(EmitterSettings Settings, IActorRef Sink)>();
        var resolved = new List<(EmitterSettings Emitter, Func<IEmfEmitter> Factory, bool Owned, EmitterContext Context)>();
        try
        {
            foreach (var emitter in Settings.Emitters)
            {
                var context = new EmitterContext(emitter.Name, Log, Time);
                var (factory, owned) = ResolveEmitter(emitter, context);
                resolved.Add((emitter, factory, owned, context));
            }
        }
        catch
        {
            // A later emitter failed to start: close what the earlier ones opened.
            DisposeSharedEmittersAsync(TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
            throw;
        }
        foreach (var (emitter, factory, owned, context) in resolved)
        {
            mainSinks.Add((emitter, StartSink(emitter, factory, owned, context: context)));
        }

        var hookContext = new EmitterContext(HookEmittersName, Log, Time);
        var hookSink = StartSink(Settings.DefaultEmitter, () => new HookEmitter(Counters, Log, hookContext), owned: false, HookEmittersName, hookContext);

        _main = CreateChannel();
        _hooks = CreateChannel();
        _mainBranches = mainSinks.Count;
        var mainDone = RunGraph(_main.Reader, mainSinks.Select(s => (s.Settings.Name, s.Settings, s.Sink)).ToList(), hooks: false);
        var hooksDone = RunGraph(_hooks.Reader, [(HookEmittersName, Settings.DefaultEmitter, hookSink)], hooks: true);
        Completion = Task.WhenAll(mainDone, hooksDone);
        Completion.ContinueWith(OnStreamsTerminated, TaskScheduler.Default);

        Router = _system.ActorOf(UsageRouterActor.Props(this), "token-telemetry-router");
        _system.WhenTerminated.ContinueWith(_ => Volatile.Write(ref _accepting, 0), TaskScheduler.Default);
    }

    /// <summary>Puts a flush marker behind every record the router has written; never waits inside the router.</summary>
    public void WriteMarker(ChannelWriter<IngressItem> writer, FlushMarker marker)
    {
        _pendingMarkers.TryAdd(marker, 0);
        _ = marker.Done.ContinueWith(_ => _pendingMarkers.TryRemove(marker, out byte _), TaskScheduler.Default);
        if (!writer.TryWrite(marker))
        {
            _ = WriteMarkerSlowAsync(writer, marker);
        }
    }

    /// <summary>Delivers everything accepted before the call without stopping the pipeline.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var main = new FlushMarker(_mainBranches);
        var hooks = new FlushMarker(1);
        if (!IsAcceptingRecords)
        {
            // Shutting down: everything accepted is being drained; wait for that instead.
            await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        Router.Tell(new FlushRequest(main, hooks));

        // If the streams end before the markers get through (a drain racing this flush), their end settles the flush.
        var markers = Task.WhenAll(main.Done, hooks.Done);
        await Task.WhenAny(markers, Completion).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (markers.IsCompleted)
        {
            await markers.ConfigureAwait(false);
        }
        else
        {
            await Completion.ConfigureAwait(false); // throws if the streams failed
        }
    }

    /// <summary>Called by the router when it has handled every record before the drain request.</summary>
    public void CompleteIngress()
    {
        Volatile.Write(ref _ingressCompleted, 1);
        _main.Writer.TryComplete();
        _hooks.Writer.TryComplete();
    }

    /// <summary>
    /// The graceful drain, run once by CoordinatedShutdown: stop intake, let the router hand over its mailbox and
    /// complete the ingress, then wait for every branch — all within one budget. What is still undelivered when the
    /// budget runs out is counted as dropped (shutdown) and logged.
    /// </summary>
    public Task DrainAsync(TimeSpan budget)
    {
        if (Interlocked.Exchange(ref _drainStarted, 1) == 0)
        {
            _drain = DrainOnceAsync(budget);
        }

        return _drain;
    }

    private async Task DrainOnceAsync(TimeSpan budget)
    {
        Volatile.Write(ref _accepting, 0);
        var started = Time.GetTimestamp();
        TimeSpan Remaining() => budget - Time.GetElapsedTime(started);
        try
        {
            await Router.Ask<Done>(AkkaTokenTelemetry.CompleteIngress.Instance, Remaining() > TimeSpan.Zero ? Remaining() : TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
            await Completion.WaitAsync(Remaining() > TimeSpan.Zero ? Remaining() : TimeSpan.Zero).ConfigureAwait(false);
            Log.Debug("Token telemetry drained: every accepted record was delivered or counted.");
        }
        catch (Exception e) when (e is TimeoutException or AskTimeoutException)
        {
            var undelivered = CountUndelivered();
            _killSwitch.Abort(new TimeoutException("Token telemetry shutdown-timeout ran out."));
            Log.Warning(
                "Token telemetry shutdown gave up after {0}: {1} records were not delivered (counted as dropped, reason {2}). Per emitter: {3}",
                budget,
                undelivered.Values.Sum(),
                DropReasons.Shutdown,
                string.Join(", ", undelivered.Select(p => $"{p.Key}={p.Value}")));
        }
        catch (Exception e)
        {
            Log.Error(e, "Token telemetry's drain failed; records not yet delivered are lost.");
        }
        finally
        {
            // Within what is left of the budget, plus the slack the reference config gives the shutdown phase.
            var left = Remaining();
            await DisposeSharedEmittersAsync((left > TimeSpan.Zero ? left : TimeSpan.Zero) + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the emitters that live as long as the pipeline (once every branch is done with them), within <paramref name="budget"/>.</summary>
    private async Task DisposeSharedEmittersAsync(TimeSpan budget)
    {
        var started = Time.GetTimestamp();
        foreach (var emitter in _sharedEmitters)
        {
            try
            {
                var remaining = budget - Time.GetElapsedTime(started);
                var closing = emitter switch
                {
                    IAsyncDisposable asyncDisposable => asyncDisposable.DisposeAsync().AsTask(),
                    IDisposable disposable => Task.Run(disposable.Dispose),
                    _ => Task.CompletedTask,
                };
                await closing.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.Warning(e, "Token telemetry: an emitter threw or took too long while being closed.");
            }
        }
    }

    private Dictionary<string, long> CountUndelivered()
    {
        var accepted = Counters.Snapshot().RecordsAccepted;
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, counters, hooks) in _branches)
        {
            // Records accepted into this branch's graph and neither delivered nor dropped by it.
            var expected = hooks ? HookRecordsAccepted : accepted - HookRecordsAccepted;
            result[name] = counters.CloseAndCountUndelivered(expected);
        }

        return result;
    }

    /// <summary>Records accepted for hooks with their own emitter.</summary>
    private long HookRecordsAccepted => Interlocked.Read(ref _hookRecordsAccepted.Value);

    private PaddedLong _hookRecordsAccepted;

    private void OnStreamsTerminated(Task completion)
    {
        foreach (var marker in _pendingMarkers.Keys)
        {
            if (completion.IsCompletedSuccessfully)
            {
                marker.ForceComplete();
            }
            else
            {
                marker.Abort(completion.Exception?.GetBaseException() ?? new InvalidOperationException("The token telemetry stream stopped."));
            }
        }

        if (!completion.IsCompletedSuccessfully)
        {
            Volatile.Write(ref _accepting, 0);
        }
    }

    private Channel<IngressItem> CreateChannel()
    {
        var options = new BoundedChannelOptions(Settings.IngressBufferSize)
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
            FullMode = Settings.IngressOverflow == OverflowMode.DropOldest ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
        };

        Channel<IngressItem>? channel = null;
        channel = Channel.CreateBounded<IngressItem>(options, dropped =>
        {
            if (dropped is FlushMarker marker)
            {
                // A flush marker is never lost: it goes back in line.
                _ = WriteMarkerSlowAsync(channel!.Writer, marker);
            }
            else
            {
                Counters.Evicted();
                if (dropped is UsageRecord { Profile.Emitter: not null })
                {
                    Interlocked.Decrement(ref _hookRecordsAccepted.Value);
                }
            }
        });
        return channel;
    }

    private static async Task WriteMarkerSlowAsync(ChannelWriter<IngressItem> writer, FlushMarker marker)
    {
        try
        {
            await writer.WriteAsync(marker).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // The stream is draining: the marker is completed when the drain ends.
        }
    }

    private IActorRef StartSink(EmitterSettings emitter, Func<IEmfEmitter> factory, bool owned, string? name = null, EmitterContext? context = null)
    {
        var branchName = name ?? emitter.Name;
        var counters = Counters.Emitter(branchName);
        var starts = 0;
        Func<IEmfEmitter> counted = () =>
        {
            if (Interlocked.Increment(ref starts) > 1)
            {
                counters.Restarted();
            }

            return factory();
        };

        var child = EmitterSinkActor.Props(emitter, counted, owned, counters, Time, context);
        // The sink replaces a failing emitter itself, after its own backoff. The supervisor restarts the sink only
        // should the actor itself stop or crash, and meanwhile answers "restarting" so the branch asks again.
        var options = Backoff.OnStop(child, "emitter", emitter.BackoffMin, emitter.BackoffMax, emitter.BackoffRandomFactor, -1)
            .WithReplyWhileStopped(EmitterRestarting.Instance);
        return _system.ActorOf(BackoffSupervisor.Props(options), $"token-telemetry-emitter-{Uri.EscapeDataString(branchName)}");
    }

    /// <summary>
    /// How the sink of <paramref name="emitter"/> gets its emitter. Emitters that can fail at creation (a file that
    /// cannot be opened, a custom class whose constructor throws) are created here, once, so that the failure is a
    /// start-up error; the first sink start uses that instance and restarts create fresh ones.
    /// </summary>
    private (Func<IEmfEmitter> Factory, bool Owned) ResolveEmitter(EmitterSettings emitter, EmitterContext context)
    {
        switch (emitter.Type)
        {
            case "stdout":
                return (() => new StdoutEmfEmitter(context), true);
            case "null":
                return (() => new NullEmfEmitter(), true);
            case "cloudwatch-agent":
            {
                // One instance for the pipeline's life: what waits to be resent outlives a restart of the sink.
                var agent = new CloudWatchAgentEmitter(emitter.Agent!, context);
                _sharedEmitters.Add(agent);
                return (() => agent, false);
            }

            case "http":
                return (() => new HttpEmfEmitter(emitter.Http!, context), true);
            case "file":
            {
                // One instance (one open file) for the pipeline's life: two could write the same file at once.
                FileEmfEmitter file;
                try
                {
                    file = new FileEmfEmitter(emitter.File!, context);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new Akka.Configuration.ConfigurationException($"Invalid token telemetry configuration: {emitter.Path}.path: the file {emitter.File!.Path} cannot be opened for appending: {e.Message}", e);
                }

                _sharedEmitters.Add(file);
                return (() => file, false);
            }

            case "logger":
            {
                var factory = _setup?.LoggerFactory ?? LoggerFactoryFromServices() ?? throw TokenTelemetrySettings.Bad(
                    $"{emitter.Path}.type",
                    "logger",
                    "needs a Microsoft.Extensions.Logging factory: pass TokenTelemetrySetup.WithLoggerFactory(…) to the actor system, or run it under Akka.Hosting (or Akka.DependencyInjection) with an ILoggerFactory among the services");
                return (() => new LoggerEmfEmitter(emitter.Logger!, factory, context), true);
            }

            case "delegate":
                if (_setup?.Emitters.TryGetValue(emitter.Name, out var registered) != true)
                {
                    throw TokenTelemetrySettings.Bad(
                        $"{emitter.Path}.type",
                        "delegate",
                        $"needs an emitter registered in code under the name '{emitter.Name}' (TokenTelemetrySetup.WithEmitter(\"{emitter.Name}\", …)), and none is");
                }

                return (() => registered!, false);
            default:
                return FirstThenFresh(emitter, () => emitter.Custom!.Create(emitter.Config, emitter.Path));
        }
    }

    /// <summary>The host's logger factory, when the actor system has a service provider (Akka.Hosting, Akka.DependencyInjection).</summary>
    private ILoggerFactory? LoggerFactoryFromServices() =>
        _system.Settings.Setup.Get<DependencyResolverSetup>().HasValue
            ? DependencyResolver.For(_system).Resolver.GetService<ILoggerFactory>()
            : null;

    private static (Func<IEmfEmitter> Factory, bool Owned) FirstThenFresh(EmitterSettings emitter, Func<IEmfEmitter> create)
    {
        IEmfEmitter? first;
        try
        {
            first = create();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Akka.Configuration.ConfigurationException($"Invalid token telemetry configuration: {emitter.Path}: the emitter could not be started: {e.Message}", e);
        }

        return (() => Interlocked.Exchange(ref first, null) ?? create(), true);
    }

    private Task RunGraph(ChannelReader<IngressItem> reader, IReadOnlyList<(string Name, EmitterSettings Settings, IActorRef Sink)> branches, bool hooks)
    {
        var completions = new List<Task>();
        var batches = ChannelSource.FromReader(reader)
            .Via(_killSwitch.Flow<IngressItem>())
            .Via(new EmfBatchStage(Settings.BatchMaxRecords, Settings.BatchMaxBytes, Settings.BatchMaxDelay, Counters, branches.Count, Settings.MergeEnabled ? (Settings.MergeMaxValues, Settings.MergeMaxSkew) : null));

        if (branches.Count == 0)
        {
            // No emitter configured: batches (and their markers) are completed and released at once.
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            batches.RunWith(
                Sink.ForEach<EmfBatch>(b =>
                {
                    b.CompleteMarkers();
                    b.Release();
                }).MapMaterializedValue(t => t.ContinueWith(r => Complete(done, r), TaskScheduler.Default)),
                _system);
            return done.Task;
        }

        var sinks = new List<Sink<EmfBatch, NotUsed>>();
        foreach (var (name, settings, sink) in branches)
        {
            var counters = Counters.Emitter(name);
            _branches.Add((name, counters, hooks));
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            completions.Add(done.Task);
            // One batch in delivery at a time; the async boundary in front holds at most one more.
            var deliver = Flow.Create<EmfBatch>()
                .SelectAsync(1, batch => DeliverAsync(batch, sink, settings, counters))
                .WithAttributes(Attributes.CreateInputBuffer(1, 1));
            var branch = Flow.Create<EmfBatch>()
                .Via(new BranchBufferStage(settings.BufferBatches, settings.Overflow, branches.Count > 1 ? settings.StallTimeout : null, dropped => OnBufferDrop(dropped, counters)))
                .Async()
                .Via(deliver)
                .To(Sink.OnComplete<NotUsed>(() => done.TrySetResult(), e => done.TrySetException(e)));
            sinks.Add(branch);
        }

        if (sinks.Count == 1)
        {
            batches.To(sinks[0]).Run(_system);
        }
        else
        {
            RunnableGraph.FromGraph(GraphDsl.Create(builder =>
            {
                var broadcast = builder.Add(new Broadcast<EmfBatch>(sinks.Count, eagerCancel: false));
                builder.From(builder.Add(batches).Outlet).To(broadcast.In);
                for (var i = 0; i < sinks.Count; i++)
                {
                    builder.From(broadcast.Out(i)).To(builder.Add(sinks[i]).Inlet);
                }

                return ClosedShape.Instance;
            })).Run(_system);
        }

        return Task.WhenAll(completions);
    }

    /// <summary>The router put a record into an ingress.</summary>
    public void OnAccepted(bool hooks)
    {
        Counters.Accepted();
        if (hooks)
        {
            Interlocked.Increment(ref _hookRecordsAccepted.Value);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static void Complete(TaskCompletionSource done, Task result)
    {
        if (result.IsCompletedSuccessfully)
        {
            done.TrySetResult();
        }
        else
        {
            done.TrySetException(result.Exception?.GetBaseException() ?? new TaskCanceledException());
        }
    }

    private static void OnBufferDrop(EmfBatch batch, TelemetryCounters.EmitterCounters counters)
    {
        if (batch.Count > 0)
        {
            counters.Dropped(DropReasons.BufferFull, batch);
        }

        batch.CompleteMarkers();
        batch.Release();
    }

    private async Task<NotUsed> DeliverAsync(EmfBatch batch, IActorRef sink, EmitterSettings settings, TelemetryCounters.EmitterCounters counters)
    {
        EmitBatch? message = null;
        try
        {
            if (batch.Count > 0)
            {
                message = new EmitBatch(batch);
                var started = Time.GetTimestamp();
                while (true)
                {
                    var remaining = settings.BatchTimeout - Time.GetElapsedTime(started);
                    if (remaining <= TimeSpan.Zero)
                    {
                        batch.Abandon();
                        if (message.TrySettle())
                        {
                            counters.Dropped(DropReasons.EmitTimeout, batch);
                        }

                        break;
                    }

                    object reply;
                    try
                    {
                        // One ask covers one sink's whole retry cycle; if its answer is lost (a message that reached
                        // a sink as it stopped to restart), ask again within the batch's budget.
                        reply = await sink.Ask<object>(message, Min(remaining, settings.AttemptCycle)).ConfigureAwait(false);
                    }
                    catch (AskTimeoutException) when (settings.BatchTimeout - Time.GetElapsedTime(started) > TimeSpan.Zero && !message.IsSettled)
                    {
                        continue;
                    }

                    if (reply is EmitterRestarting)
                    {
                        await Task.Delay(settings.BackoffMin, Time).ConfigureAwait(false);
                        continue;
                    }

                    break; // Delivered or dropped: the sink counted it.
                }
            }
        }
        catch (Exception e)
        {
            // An ask that timed out: the sink may still hold the batch, so its memory is never reused. The sink may
            // still settle it; whoever settles first counts it.
            batch.Abandon();
            if (message?.TrySettle() ?? true)
            {
                counters.Dropped(DropReasons.EmitTimeout, batch);
            }

            Log.Warning("Token telemetry emitter '{0}' did not answer for a batch of {1} records within {2}; it was dropped (counted as {3}). {4}", counters.Name, batch.RecordCount, settings.BatchTimeout, DropReasons.EmitTimeout, e.Message);
        }
        finally
        {
            batch.CompleteMarkers();
            batch.Release();
        }

        return NotUsed.Instance;
    }
}
