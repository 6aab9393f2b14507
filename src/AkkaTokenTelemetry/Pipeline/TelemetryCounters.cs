using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AkkaTokenTelemetry;

/// <summary>
/// The pipeline's self-telemetry: lock-free counters for <see cref="TokenTelemetryStats"/>, mirrored to a
/// <see cref="Meter"/> named <c>AkkaTokenTelemetry</c> (tagged with the actor system's name).
/// </summary>
internal sealed class TelemetryCounters : IDisposable
{
    /// <summary>The meter's name, for <c>AddMeter("AkkaTokenTelemetry")</c>.</summary>
    public const string MeterName = "AkkaTokenTelemetry";

    private readonly Meter _meter;
    private readonly Counter<long> _received;
    private readonly UpDownCounter<long> _accepted;
    private readonly Counter<long> _events;
    private readonly Counter<long> _split;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _valuesDropped;
    private readonly Counter<long> _fixes;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _restarts;
    private readonly ConcurrentDictionary<string, StrongBox> _recordsDropped = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _usageValuesDropped = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _fixCounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EmitterCounters> _emitters = new(StringComparer.Ordinal);
    private PaddedLong _receivedCount;
    private PaddedLong _acceptedCount;
    private PaddedLong _eventCount;
    private PaddedLong _splitCount;
    private PaddedLong _mergedCount;
    private readonly Counter<long> _merged;

    public TelemetryCounters(string systemName)
    {
        _meter = new Meter(new MeterOptions(MeterName) { Tags = [new("actor_system", systemName)] });
        _received = _meter.CreateCounter<long>("token_telemetry.records.received", "{record}", "Invocations with a result that hooks handed to the pipeline.");
        _accepted = _meter.CreateUpDownCounter<long>("token_telemetry.records.accepted", "{record}", "Records put into the stream (less any a drop-oldest ingress evicted).");
        _events = _meter.CreateCounter<long>("token_telemetry.events.written", "{event}", "EMF events written.");
        _split = _meter.CreateCounter<long>("token_telemetry.records.split", "{record}", "Records split into several events (over 100 usage keys).");
        _merged = _meter.CreateCounter<long>("token_telemetry.records.merged", "{record}", "Records written into one event together with other records (merge mode).");
        _dropped = _meter.CreateCounter<long>("token_telemetry.records.dropped", "{record}", "Records dropped, by reason (and emitter, for drops in an emitter's branch).");
        _valuesDropped = _meter.CreateCounter<long>("token_telemetry.usage_values.dropped", "{value}", "Single usage values dropped from records that were still emitted, by reason.");
        _fixes = _meter.CreateCounter<long>("token_telemetry.fixes", "{fix}", "Fixes applied to records so that they could be emitted, by kind.");
        _delivered = _meter.CreateCounter<long>("token_telemetry.records.delivered", "{record}", "Records delivered, by emitter.");
        _retries = _meter.CreateCounter<long>("token_telemetry.batches.retried", "{attempt}", "Failed delivery attempts that were retried, by emitter.");
        _restarts = _meter.CreateCounter<long>("token_telemetry.emitter.restarts", "{restart}", "Emitter restarts after a failure, by emitter.");
    }

    public void Received()
    {
        Interlocked.Increment(ref _receivedCount.Value);
        _received.Add(1);
    }

    /// <summary>The router put a record into the stream's ingress.</summary>
    public void Accepted()
    {
        Interlocked.Increment(ref _acceptedCount.Value);
        _accepted.Add(1);
    }

    /// <summary>A full ingress (in drop-oldest mode) evicted a record it had accepted: it is a drop now.</summary>
    public void Evicted()
    {
        Interlocked.Decrement(ref _acceptedCount.Value);
        _accepted.Add(-1);
        RecordsDropped(DropReasons.QueueFull);
    }

    /// <summary>The batching stage wrote a record as <paramref name="events"/> events.</summary>
    public void Written(int events, bool split)
    {
        Interlocked.Add(ref _eventCount.Value, events);
        _events.Add(events);
        if (split)
        {
            Interlocked.Increment(ref _splitCount.Value);
            _split.Add(1);
        }
    }

    /// <summary>Merge mode put <paramref name="records"/> records into events shared with other records.</summary>
    public void Merged(int records)
    {
        if (records > 0)
        {
            Interlocked.Add(ref _mergedCount.Value, records);
            _merged.Add(records);
        }
    }

    public void RecordsDropped(string reason, long records = 1)
    {
        Add(_recordsDropped, reason, records);
        _dropped.Add(records, new KeyValuePair<string, object?>("reason", reason));
    }

    public void UsageValueDropped(string reason)
    {
        Add(_usageValuesDropped, reason, 1);
        _valuesDropped.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Fixed(string kind, long count = 1)
    {
        Add(_fixCounts, kind, count);
        _fixes.Add(count, new KeyValuePair<string, object?>("kind", kind));
    }

    public EmitterCounters Emitter(string name) => _emitters.GetOrAdd(name, static (n, self) => new EmitterCounters(n, self), this);

    public TokenTelemetryStats Snapshot() => new(
        Interlocked.Read(ref _receivedCount.Value),
        Interlocked.Read(ref _acceptedCount.Value),
        Interlocked.Read(ref _eventCount.Value),
        Interlocked.Read(ref _splitCount.Value),
        Interlocked.Read(ref _mergedCount.Value),
        Read(_recordsDropped),
        Read(_usageValuesDropped),
        Read(_fixCounts),
        _emitters.ToDictionary(p => p.Key, p => p.Value.Snapshot(), StringComparer.Ordinal));

    public void Dispose() => _meter.Dispose();

    internal static void Add(ConcurrentDictionary<string, StrongBox> map, string key, long amount)
    {
        var box = map.GetOrAdd(key, static _ => new StrongBox());
        Interlocked.Add(ref box.Value, amount);
    }

    internal static Dictionary<string, long> Read(ConcurrentDictionary<string, StrongBox> map) =>
        map.ToDictionary(p => p.Key, p => Interlocked.Read(ref p.Value.Value), StringComparer.Ordinal);

    /// <summary>A mutable long that lives in a dictionary.</summary>
    internal sealed class StrongBox
    {
#pragma warning disable SA1401, CA1051 // a field, so Interlocked can take it by reference
        public long Value;
#pragma warning restore SA1401, CA1051
    }

    /// <summary>The counters of one emitter.</summary>
    internal sealed class EmitterCounters
    {
        private readonly TelemetryCounters _owner;
        private readonly KeyValuePair<string, object?> _tag;
        private readonly ConcurrentDictionary<string, StrongBox> _recordsDropped = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, StrongBox> _batchesDropped = new(StringComparer.Ordinal);
        private long _records;
        private long _events;
        private long _batches;
        private long _retries;
        private long _restarts;
        private readonly object _gate = new();
        private bool _closed;

        public EmitterCounters(string name, TelemetryCounters owner)
        {
            Name = name;
            _owner = owner;
            _tag = new("emitter", name);
        }

        public string Name { get; }

        public void Delivered(EmfBatch batch) => Delivered(batch, 0, 0, 0);

        /// <summary>
        /// The emitter delivered the batch, except <paramref name="recordsTooLarge"/> records whose events were over
        /// its size limit (dropped, counted as too_large here) and <paramref name="recordsDroppedElsewhere"/> records
        /// already counted as dropped by the emitter itself, with <paramref name="propertiesTrimmed"/> events cut down.
        /// </summary>
        public void Delivered(EmfBatch batch, long recordsTooLarge, long propertiesTrimmed, long recordsDroppedElsewhere)
        {
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                CountDelivered(batch, recordsTooLarge, propertiesTrimmed, recordsDroppedElsewhere);
            }
        }

        private void CountDelivered(EmfBatch batch, long recordsTooLarge, long propertiesTrimmed, long recordsDroppedElsewhere)
        {
            // Events are counted one by one; a batch never loses more records than it holds.
            recordsTooLarge = Math.Clamp(recordsTooLarge, 0, batch.RecordCount);
            recordsDroppedElsewhere = Math.Clamp(recordsDroppedElsewhere, 0, batch.RecordCount - recordsTooLarge);
            var records = batch.RecordCount - recordsTooLarge - recordsDroppedElsewhere;
            Interlocked.Add(ref _records, records);
            Interlocked.Add(ref _events, batch.Count);
            Interlocked.Increment(ref _batches);
            _owner._delivered.Add(records, _tag);
            if (recordsTooLarge > 0)
            {
                DroppedRecords(DropReasons.TooLarge, recordsTooLarge);
            }

            if (propertiesTrimmed > 0)
            {
                _owner.Fixed(FixKinds.PropertiesTrimmed, propertiesTrimmed);
            }
        }

        public void Dropped(string reason, EmfBatch batch)
        {
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                Add(_batchesDropped, reason, 1);
                DroppedRecords(reason, batch.RecordCount);
            }
        }

        /// <summary>
        /// The drain gave up: counts every record this branch was given (<paramref name="expected"/>) and has
        /// neither delivered nor dropped as dropped for <c>shutdown</c>, and from then on counts nothing more, so
        /// a batch that settles later is never counted twice. Returns the number counted.
        /// </summary>
        public long CloseAndCountUndelivered(long expected)
        {
            lock (_gate)
            {
                _closed = true;
                var missing = Math.Max(0, expected - Interlocked.Read(ref _records) - Read(_recordsDropped).Values.Sum());
                if (missing > 0)
                {
                    DroppedRecords(DropReasons.Shutdown, missing);
                }

                return missing;
            }
        }

        private void DroppedRecords(string reason, long records)
        {
            Add(_recordsDropped, reason, records);
            var tags = new TagList { _tag, { "reason", reason } };
            _owner._dropped.Add(records, tags);
        }

        public void Retried()
        {
            Interlocked.Increment(ref _retries);
            _owner._retries.Add(1, _tag);
        }

        public void Restarted()
        {
            Interlocked.Increment(ref _restarts);
            _owner._restarts.Add(1, _tag);
        }

        public long RecordsDelivered => Interlocked.Read(ref _records);

        public long RecordsDroppedTotal => Read(_recordsDropped).Values.Sum();

        public EmitterStats Snapshot() => new(
            Interlocked.Read(ref _records),
            Interlocked.Read(ref _events),
            Interlocked.Read(ref _batches),
            Interlocked.Read(ref _retries),
            Interlocked.Read(ref _restarts),
            Read(_recordsDropped),
            Read(_batchesDropped));
    }
}
