using Akka.Actor;
using Akka.Event;
using Polly;
using Polly.Retry;

namespace AkkaTokenTelemetry;

/// <summary>
/// Asks an emitter sink to deliver one batch; answered with an <see cref="EmitOutcome"/>. The same message is sent
/// again when the sink answers "restarting", and whoever settles the batch first — the sink (delivered, retries
/// exhausted) or the branch (gave up waiting) — counts it, so a batch is never counted twice.
/// </summary>
internal sealed class EmitBatch(EmfBatch batch)
{
    private int _settled;

    public EmfBatch Batch { get; } = batch;

    /// <summary>Claims the right to count this batch's outcome; true only for the first caller.</summary>
    public bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;

    /// <summary>Whether the batch was already delivered, dropped or given up on.</summary>
    public bool IsSettled => Volatile.Read(ref _settled) == 1;
}

/// <summary>How a batch ended at an emitter.</summary>
internal enum EmitOutcome
{
    /// <summary>Delivered (possibly after retries).</summary>
    Delivered,

    /// <summary>Every attempt failed; the batch was dropped and counted.</summary>
    RetriesExhausted,

    /// <summary>The receiver refused the batch for good; it was dropped and counted without retries.</summary>
    Rejected,
}

/// <summary>The answer while the sink waits to restart its emitter: ask again shortly.</summary>
internal sealed class EmitterRestarting
{
    public static readonly EmitterRestarting Instance = new();
}

/// <summary>The sink's own timer: the backoff before a fresh emitter is over.</summary>
internal sealed class RestartEmitter
{
    public static readonly RestartEmitter Instance = new();
}

/// <summary>
/// Owns one <see cref="IEmfEmitter"/> and delivers one batch at a time to it: every attempt is bounded by
/// <c>ask-timeout</c> (also for an emitter that ignores its cancellation token), failures are retried up to
/// <c>max-retries-per-batch</c> times with exponential backoff and jitter (Polly), then the batch is dropped and
/// counted, and the sink replaces its emitter with a fresh one after an exponential, jittered delay that grows with
/// each consecutive failed batch. While it waits it answers every batch "restarting", so the branch asks again and
/// no batch is lost to the restart. (Its backoff supervisor only restarts the sink itself should the actor crash.)
/// </summary>
/// <remarks>Created by the pipeline, one per configured emitter; it is public so that its name can appear in logs,
/// supervision and diagnostics, not to be created by user code.</remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Disposed in PostStop, the actor's end of life.")]
public sealed class EmitterSinkActor : ReceiveActor, IWithTimers
{
    private readonly EmitterSettings _settings;
    private readonly Func<IEmfEmitter> _factory;
    private readonly bool _ownsEmitter;
    private readonly TelemetryCounters.EmitterCounters _counters;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _retry;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly EmitterContext? _context;
    private IEmfEmitter? _emitter;

    /// <summary>Attempts that outlived ask-timeout and may still be running inside this sink's emitter.</summary>
    private readonly List<Task> _abandoned = [];

    /// <summary>Batches failed in a row: the exponent of the restart backoff.</summary>
    private int _consecutiveFailures;

    /// <summary>The sink's timers (the restart backoff); set by Akka.NET when the actor is created.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    internal EmitterSinkActor(EmitterSettings settings, Func<IEmfEmitter> factory, bool ownsEmitter, TelemetryCounters.EmitterCounters counters, TimeProvider time, EmitterContext? context)
    {
        _settings = settings;
        _context = context;
        _factory = factory;
        _ownsEmitter = ownsEmitter;
        _counters = counters;
        _time = time;
        _retry = BuildRetry(settings, counters, time);
        Ready();
    }

    internal static Props Props(EmitterSettings settings, Func<IEmfEmitter> factory, bool ownsEmitter, TelemetryCounters.EmitterCounters counters, TimeProvider time, EmitterContext? context = null) =>
        FactoryActorProducer<EmitterSinkActor>.Props(() => new EmitterSinkActor(settings, factory, ownsEmitter, counters, time, context));

    /// <inheritdoc/>
    protected override void PreStart() => _emitter = _factory();

    private void Ready() => ReceiveAsync<EmitBatch>(DeliverAsync);

    private void Restarting()
    {
        Receive<EmitBatch>(_ => Sender.Tell(EmitterRestarting.Instance));
        Receive<RestartEmitter>(_ => ReplaceEmitter());
    }

    /// <summary>Waits a growing, jittered backoff, then replaces the emitter; batches meanwhile are answered "restarting".</summary>
    /// <param name="atLeast">A wait the receiver asked for (Retry-After), honoured up to backoff.max.</param>
    private void BeginRestart(TimeSpan? atLeast = null)
    {
        var exponent = Math.Min(_consecutiveFailures++, 30);
        var delay = TimeSpan.FromTicks((long)Math.Min(_settings.BackoffMax.Ticks, _settings.BackoffMin.Ticks * Math.Pow(2, exponent)));
        delay += delay * (Random.Shared.NextDouble() * _settings.BackoffRandomFactor);
        if (atLeast is { } wait && delay < wait)
        {
            delay = Min(wait, _settings.BackoffMax);
        }
        Become(Restarting);
        Timers.StartSingleTimer(nameof(RestartEmitter), RestartEmitter.Instance, delay);
    }

    private void ReplaceEmitter()
    {
        if (_ownsEmitter)
        {
            DisposeWhenIdle(_emitter);
        }

        _abandoned.Clear();
        try
        {
            _emitter = _factory();
        }
        catch (Exception e)
        {
            _emitter = null;
            _log.Warning(e, "Token telemetry emitter '{0}' could not be created again; trying later.", _settings.Name);
            BeginRestart();
            return;
        }

        Become(Ready);
    }

    /// <summary>Disposes an emitter, once any abandoned call into it has ended.</summary>
    private void DisposeWhenIdle(IEmfEmitter? emitter)
    {
        // Never dispose an emitter under a call that is still running, and never on the actor's thread: dispose it
        // in the background once every abandoned call into it has ended.
        var running = Task.WhenAll(_abandoned.Where(t => !t.IsCompleted));
        var (log, name) = (_log, _settings.Name);
        running.ContinueWith(_ => DisposeEmitter(emitter, log, name), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <inheritdoc/>
    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        if (_ownsEmitter)
        {
            DisposeWhenIdle(_emitter);
        }
    }

    private static void DisposeEmitter(IEmfEmitter? emitter, ILoggingAdapter log, string name)
    {
        try
        {
            switch (emitter)
            {
                case IAsyncDisposable asyncDisposable:
                    asyncDisposable.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
        catch (Exception e)
        {
            log.Warning(e, "Token telemetry emitter '{0}' threw while being disposed.", name);
        }
    }

    private static ResiliencePipeline BuildRetry(EmitterSettings settings, TelemetryCounters.EmitterCounters counters, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (settings.MaxRetriesPerBatch > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = settings.MaxRetriesPerBatch,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = settings.BackoffRandomFactor > 0,
                Delay = settings.BackoffMin,
                MaxDelay = settings.BackoffMax,
                // A permanent refusal (an HTTP 400, say) is never retried: the same batch would be refused again.
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException && DeliveryFailure(e) is not { IsPermanent: true }),
                DelayGenerator = args =>
                {
                    // A receiver that said when to come back (Retry-After) is honoured, up to backoff.max.
                    var retryAfter = args.Outcome.Exception is { } e ? DeliveryFailure(e)?.RetryAfter : null;
                    return new ValueTask<TimeSpan?>(retryAfter is { } wait ? Min(wait, settings.BackoffMax) : null);
                },
                OnRetry = _ =>
                {
                    counters.Retried();
                    return default;
                },
            });
        }

        return builder.Build();
    }

    private static EmfDeliveryException? DeliveryFailure(Exception e) => e as EmfDeliveryException ?? e.InnerException as EmfDeliveryException;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private async Task DeliverAsync(EmitBatch message)
    {
        var sender = Sender;
        var batch = message.Batch;
        if (message.IsSettled)
        {
            // Asked again after an answer was lost (the sink restarted meanwhile): never deliver a batch twice.
            sender.Tell(EmitOutcome.RetriesExhausted);
            return;
        }

        Exception? failure = null;
        try
        {
            // Resume on the actor's own context (not ConfigureAwait(false)): Context is used below.
            await _retry.ExecuteAsync(
                static async (state, token) => await state.Self.AttemptAsync(state.Batch, token).ConfigureAwait(false),
                (Self: this, Batch: batch),
                _stopping.Token).ConfigureAwait(true);
        }
        catch (Exception e)
        {
            failure = e;
        }

        if (failure is null)
        {
            var (tooLarge, trimmed, droppedElsewhere) = _context?.TakeReport() ?? default;
            if (message.TrySettle())
            {
                _counters.Delivered(batch, tooLarge, trimmed, droppedElsewhere);
            }

            _consecutiveFailures = 0;

            sender.Tell(EmitOutcome.Delivered);
            return;
        }

        if (_stopping.IsCancellationRequested)
        {
            // Stopped mid-batch: the drain gave up and has already counted every undelivered record as shutdown.
            message.TrySettle();
            sender.Tell(EmitOutcome.RetriesExhausted);
            return;
        }

        if (DeliveryFailure(failure) is { IsPermanent: true } refusal)
        {
            // Refused for good: drop it, say why, and carry on with the next batch (the emitter itself is healthy).
            if (message.TrySettle())
            {
                _counters.Dropped(DropReasons.Rejected, batch);
            }

            sender.Tell(EmitOutcome.Rejected);
            _log.Warning(
                "Token telemetry emitter '{0}' had a batch of {1} records refused; it was dropped without retries (counted as {2}). {3}",
                _settings.Name,
                batch.RecordCount,
                DropReasons.Rejected,
                refusal.Message);
            return;
        }

        if (message.TrySettle())
        {
            _counters.Dropped(DropReasons.RetriesExhausted, batch);
        }

        sender.Tell(EmitOutcome.RetriesExhausted);
        _log.Warning(
            "Token telemetry emitter '{0}' failed a batch of {1} records on all {2} attempts; it was dropped (counted as {3}) and the emitter will be restarted after a backoff. Last error: {4}",
            _settings.Name,
            batch.RecordCount,
            _settings.MaxRetriesPerBatch + 1,
            DropReasons.RetriesExhausted,
            failure.Message);
        BeginRestart(DeliveryFailure(failure)?.RetryAfter);
    }

    /// <summary>Remembers a call that outlived its attempt (forgetting those that have ended since).</summary>
    private void Abandoned(Task task)
    {
        _abandoned.RemoveAll(t => t.IsCompleted);
        _abandoned.Add(task);
    }

    /// <summary>One attempt, never longer than ask-timeout, even if the emitter ignores its token.</summary>
    private async ValueTask AttemptAsync(EmfBatch batch, CancellationToken stopping)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        attempt.CancelAfter(_settings.AskTimeout);
        _context?.BeginAttempt();
        Task task;
        try
        {
            task = _emitter!.EmitAsync(batch, attempt.Token).AsTask();
        }
        catch (EmfDeliveryException)
        {
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new EmitterAttemptException($"Emitter '{_settings.Name}' threw: {e.Message}", e);
        }

        try
        {
            await task.WaitAsync(_settings.AskTimeout, _time, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !task.IsCompleted)
        {
            // Stopping while the emitter still runs: it may still read the batch, so its memory is never reused.
            batch.Abandon();
            Abandoned(task);
            throw;
        }
        catch (TimeoutException e)
        {
            // The emitter may still be reading the batch: its memory must never be reused.
            batch.Abandon();
            Abandoned(task);
            throw new EmitterAttemptException($"Emitter '{_settings.Name}' did not finish within ask-timeout ({_settings.AskTimeout}).", e);
        }
        catch (OperationCanceledException e) when (!stopping.IsCancellationRequested)
        {
            batch.Abandon();
            if (!task.IsCompleted)
            {
                Abandoned(task);
            }

            throw new EmitterAttemptException($"Emitter '{_settings.Name}' was cancelled after ask-timeout ({_settings.AskTimeout}).", e);
        }
        catch (Exception e) when (e is not OperationCanceledException and not EmitterAttemptException and not EmfDeliveryException)
        {
            throw new EmitterAttemptException($"Emitter '{_settings.Name}' failed: {e.Message}", e);
        }
    }
}

/// <summary>One failed delivery attempt (retried by the sink's retry pipeline).</summary>
internal sealed class EmitterAttemptException(string message, Exception inner) : Exception(message, inner);
