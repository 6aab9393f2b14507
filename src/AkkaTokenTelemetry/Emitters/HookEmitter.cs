using Akka.Event;

namespace AkkaTokenTelemetry;

/// <summary>
/// The emitter of the hook-emitter branch: calls, for each event, the <see cref="TokenUsageHookOptions.Emitter"/> of
/// the hook that recorded it, with the parsed payload. A delegate that throws loses only its own event, which is
/// counted (<c>emitter_error</c>) and logged once; the batch is not retried, so no other delegate is called twice.
/// </summary>
internal sealed class HookEmitter(TelemetryCounters counters, ILoggingAdapter log, EmitterContext context) : IEmfEmitter
{
    private int _warned;

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        var emitters = batch.EventEmitters;
        if (emitters is null)
        {
            return ValueTask.CompletedTask;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (emitters[i] is not { } emitter)
            {
                continue;
            }

            try
            {
                emitter.Emit(batch.GetPayload(i));
            }
            catch (Exception e)
            {
                counters.RecordsDropped(DropReasons.EmitterError);
                context.RecordsDroppedElsewhere(1);
                if (Interlocked.Exchange(ref _warned, 1) == 0)
                {
                    log.Warning(e, "A token usage hook's own Emitter threw; that event is dropped and counted as {0} (logged once).", DropReasons.EmitterError);
                }
            }
        }

        return ValueTask.CompletedTask;
    }
}
