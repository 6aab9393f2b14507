using Akka.Event;

namespace AkkaTokenTelemetry;

/// <summary>
/// What a built-in emitter needs from the pipeline: its name and HOCON path for messages, the log, and a place to
/// report the events it had to change or leave out of the batch in hand. The sink counts those once per batch, when
/// the batch is settled, so an attempt that is retried never counts them twice.
/// </summary>
internal sealed class EmitterContext(string name, ILoggingAdapter log, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private long _recordsTooLarge;
    private long _propertiesTrimmed;
    private long _recordsDroppedElsewhere;

    public string Name { get; } = name;

    public ILoggingAdapter Log { get; } = log;

    public TimeProvider Time { get; } = time;

    /// <summary>The current attempt left out an event (of <paramref name="records"/> records) that did not fit its size limit.</summary>
    public void EventTooLarge(int records, int bytes, int limit)
    {
        Interlocked.Add(ref _recordsTooLarge, records);
        WarnOnce(
            DropReasons.TooLarge,
            $"Token telemetry emitter '{Name}' dropped an EMF event of {bytes} bytes that is over its limit of {limit} bytes even without its extra properties (counted as {DropReasons.TooLarge}). Further such drops are counted, not logged.");
    }

    /// <summary>The receiver refused one event of <paramref name="bytes"/> bytes as too large (HTTP 413), even alone.</summary>
    public void EventRefusedAsTooLarge(int bytes)
    {
        Interlocked.Add(ref _recordsTooLarge, 1);
        WarnOnce(
            DropReasons.TooLarge,
            $"Token telemetry emitter '{Name}' dropped an EMF event of {bytes} bytes that its receiver refused as too large even on its own (HTTP 413; counted as {DropReasons.TooLarge}). Further such drops are counted, not logged.");
    }

    /// <summary>The current attempt removed extra properties from an event so that it fits its size limit.</summary>
    public void PropertiesTrimmed(int bytes, int limit)
    {
        Interlocked.Increment(ref _propertiesTrimmed);
        WarnOnce(
            FixKinds.PropertiesTrimmed,
            $"Token telemetry emitter '{Name}' removed extra properties (largest first) from an EMF event of {bytes} bytes to fit its limit of {limit} bytes (counted as fix {FixKinds.PropertiesTrimmed}). Further such fixes are counted, not logged.");
    }

    /// <summary>
    /// The current attempt left out an event whose records the emitter has already counted as dropped itself (a
    /// hook's own emitter that threw): they must not also count as delivered.
    /// </summary>
    public void RecordsDroppedElsewhere(int records) => Interlocked.Add(ref _recordsDroppedElsewhere, records);

    /// <summary>Forgets what an attempt reported: called before each attempt of a batch.</summary>
    public void BeginAttempt()
    {
        Interlocked.Exchange(ref _recordsTooLarge, 0);
        Interlocked.Exchange(ref _propertiesTrimmed, 0);
        Interlocked.Exchange(ref _recordsDroppedElsewhere, 0);
    }

    /// <summary>Takes what the successful attempt reported.</summary>
    public (long RecordsTooLarge, long PropertiesTrimmed, long RecordsDroppedElsewhere) TakeReport() =>
        (Interlocked.Exchange(ref _recordsTooLarge, 0), Interlocked.Exchange(ref _propertiesTrimmed, 0), Interlocked.Exchange(ref _recordsDroppedElsewhere, 0));

    /// <summary>Logs a warning once per cause for this emitter.</summary>
    public void WarnOnce(string cause, string message)
    {
        lock (_gate)
        {
            if (!_warned.Add(cause))
            {
                return;
            }
        }

        Log.Warning(message);
    }
}
