namespace AkkaTokenTelemetry;

/// <summary>
/// A snapshot of the pipeline's own counters (the same numbers the <c>AkkaTokenTelemetry</c> meter publishes).
/// Every record a hook accepted is, per emitter, either delivered or dropped with a reason.
/// </summary>
public sealed class TokenTelemetryStats
{
    internal TokenTelemetryStats(
        long recordsReceived,
        long recordsAccepted,
        long eventsWritten,
        long recordsSplit,
        long recordsMerged,
        IReadOnlyDictionary<string, long> recordsDropped,
        IReadOnlyDictionary<string, long> usageValuesDropped,
        IReadOnlyDictionary<string, long> fixes,
        IReadOnlyDictionary<string, EmitterStats> emitters)
    {
        RecordsReceived = recordsReceived;
        RecordsAccepted = recordsAccepted;
        EventsWritten = eventsWritten;
        RecordsSplit = recordsSplit;
        RecordsMerged = recordsMerged;
        RecordsDropped = recordsDropped;
        UsageValuesDropped = usageValuesDropped;
        Fixes = fixes;
        Emitters = emitters;
    }

    /// <summary>Invocations with a result that hooks handed to the pipeline.</summary>
    public long RecordsReceived { get; }

    /// <summary>Records the router turned into EMF and put into the stream.</summary>
    public long RecordsAccepted { get; }

    /// <summary>EMF events written (a record with more than 100 usage keys is several events; in merge mode one event holds many records).</summary>
    public long EventsWritten { get; }

    /// <summary>Records that were split into several events.</summary>
    public long RecordsSplit { get; }

    /// <summary>Merge mode: records written into one event together with other records (<c>merge.enabled = on</c>).</summary>
    public long RecordsMerged { get; }

    /// <summary>Records dropped before reaching any emitter, by reason (see <see cref="DropReasons"/>).</summary>
    public IReadOnlyDictionary<string, long> RecordsDropped { get; }

    /// <summary>Single usage values dropped from records that were still emitted, by reason.</summary>
    public IReadOnlyDictionary<string, long> UsageValuesDropped { get; }

    /// <summary>Fixes applied to records so that they could be emitted, by kind (see <see cref="FixKinds"/>).</summary>
    public IReadOnlyDictionary<string, long> Fixes { get; }

    /// <summary>Per emitter: what it delivered and what it dropped. Hooks with their own emitter appear as <c>hook-emitters</c>.</summary>
    public IReadOnlyDictionary<string, EmitterStats> Emitters { get; }

    /// <summary>All records dropped before reaching any emitter.</summary>
    public long RecordsDroppedTotal => RecordsDropped.Values.Sum();
}

/// <summary>One emitter's counters.</summary>
public sealed class EmitterStats
{
    internal EmitterStats(long recordsDelivered, long eventsDelivered, long batchesDelivered, long retries, long restarts, IReadOnlyDictionary<string, long> recordsDropped, IReadOnlyDictionary<string, long> batchesDropped)
    {
        RecordsDelivered = recordsDelivered;
        EventsDelivered = eventsDelivered;
        BatchesDelivered = batchesDelivered;
        Retries = retries;
        Restarts = restarts;
        RecordsDropped = recordsDropped;
        BatchesDropped = batchesDropped;
    }

    /// <summary>Records in batches this emitter delivered.</summary>
    public long RecordsDelivered { get; }

    /// <summary>EMF events this emitter delivered.</summary>
    public long EventsDelivered { get; }

    /// <summary>Batches this emitter delivered.</summary>
    public long BatchesDelivered { get; }

    /// <summary>Delivery attempts that failed and were retried.</summary>
    public long Retries { get; }

    /// <summary>Times the emitter was restarted by its supervisor after a failure.</summary>
    public long Restarts { get; }

    /// <summary>Records this emitter dropped, by reason (see <see cref="DropReasons"/>).</summary>
    public IReadOnlyDictionary<string, long> RecordsDropped { get; }

    /// <summary>Batches this emitter dropped, by reason.</summary>
    public IReadOnlyDictionary<string, long> BatchesDropped { get; }

    /// <summary>All records this emitter dropped.</summary>
    public long RecordsDroppedTotal => RecordsDropped.Values.Sum();
}
