using Akka.Event;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaTokenTelemetry;

/// <summary>
/// Writes each record as EMF (UTF-8, split at 100 metrics) straight into the current batch, and emits the batch when
/// it holds <c>batch.max-records</c> records, reaches <c>batch.max-bytes</c>, or <c>batch.max-delay</c> after its first
/// record — a grouped-weighted-within whose weight is the exact encoded size, measured as it is written. A flush
/// marker closes the current batch at once (it may then be empty) and travels with it.
/// </summary>
/// <remarks>Writing here, once per record and before the fan-out, means the bytes are produced once for all
/// emitters and no per-record buffer is allocated.</remarks>
internal sealed class EmfBatchStage : GraphStage<FlowShape<IngressItem, EmfBatch>>
{
    private readonly int _maxRecords;
    private readonly long _maxBytes;
    private readonly TimeSpan _maxDelay;
    private readonly TelemetryCounters _counters;
    private readonly int _consumers;
    private readonly (int MaxValues, TimeSpan MaxSkew)? _merge;

    /// <param name="maxRecords">batch.max-records.</param>
    /// <param name="maxBytes">batch.max-bytes.</param>
    /// <param name="maxDelay">batch.max-delay.</param>
    /// <param name="counters">Where records accepted and events written are counted.</param>
    /// <param name="consumers">How many branches will each release every batch.</param>
    /// <param name="merge">Merge mode's max-values and max-skew, or null when merge mode is off.</param>
    public EmfBatchStage(int maxRecords, long maxBytes, TimeSpan maxDelay, TelemetryCounters counters, int consumers, (int MaxValues, TimeSpan MaxSkew)? merge = null)
    {
        _merge = merge;
        _maxRecords = maxRecords;
        _maxBytes = maxBytes;
        _maxDelay = maxDelay;
        _counters = counters;
        _consumers = Math.Max(consumers, 1);
        Shape = new FlowShape<IngressItem, EmfBatch>(In, Out);
    }

    public Inlet<IngressItem> In { get; } = new("EmfBatch.in");

    public Outlet<EmfBatch> Out { get; } = new("EmfBatch.out");

    public override FlowShape<IngressItem, EmfBatch> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("emf-batch");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : TimerGraphStageLogic
    {
        private const string Timer = "max-delay";
        private readonly EmfBatchStage _stage;
        private readonly EmfEventWriter _writer = new();
        private readonly ByteBufferWriter _buffer;
        private readonly List<int> _eventEnds = new(1024);
        private readonly List<FlushMarker> _markers = [];
        private readonly EmfMerger? _merger;
        private List<JsonEmitter?>? _eventEmitters;
        private int _records;
        private bool _ready;
        private bool _finishing;
        private byte[]? _carry;
        private UsageRecord? _carryRecord;

        public Logic(EmfBatchStage stage)
            : base(stage.Shape)
        {
            _stage = stage;
            _merger = stage._merge is { } merge ? new EmfMerger(merge.MaxValues, merge.MaxSkew) : null;
            _buffer = new ByteBufferWriter((int)Math.Min(stage._maxBytes + (64 * 1024), 8 * 1024 * 1024));
            SetHandler(stage.In, OnPush, OnUpstreamFinish);
            SetHandler(stage.Out, OnPull);
        }

        public override void PreStart() => Pull(_stage.In);

        protected override void OnTimer(object timerKey)
        {
            _ready = true;
            TryEmit();
        }

        private void OnPush()
        {
            switch (Grab(_stage.In))
            {
                case FlushMarker marker:
                    _markers.Add(marker);
                    _ready = true;
                    break;
                case UsageRecord record:
                    Write(record);
                    break;
            }

            TryEmit();
            PullIfRoom();
        }

        private void OnPull()
        {
            TryEmit();
            PullIfRoom();
        }

        private void OnUpstreamFinish()
        {
            _finishing = true;
            _ready = true;
            TryEmit();
        }

        private void PullIfRoom()
        {
            if (!_finishing && !IsFull && !HasBeenPulled(_stage.In) && !IsClosed(_stage.In))
            {
                Pull(_stage.In);
            }
        }

        /// <summary>
        /// Whether the batch must go out. In merge mode the limits apply to what will be written: max-records counts
        /// the events the merged records will become, max-bytes their estimated size.
        /// </summary>
        private bool IsFull => _merger is { } merger
            ? merger.EstimatedEvents >= _stage._maxRecords || merger.EstimatedBytes >= _stage._maxBytes
            : _records >= _stage._maxRecords || _buffer.WrittenCount >= _stage._maxBytes || _carry is not null;

        private bool IsEmpty => _records == 0 && _markers.Count == 0;

        private void Write(UsageRecord record)
        {
            if (_merger is not null)
            {
                // Merge mode: records wait in their group; the batch is written when it is taken.
                _merger.Add(record);
                StartTimerIfFirst();
                if (IsFull)
                {
                    _ready = true;
                }

                return;
            }

            var before = _buffer.WrittenCount;
            int events;
            try
            {
                events = _writer.WriteRecord(_buffer, record.Profile.Context, record.DimensionValues, record.Usage, record.TimestampMs);
            }
            catch (Exception e)
            {
                // Never let a half-written event out: cut it off, count it, keep going.
                _buffer.Truncate(before);
                _stage._counters.RecordsDropped(DropReasons.WriteError);
                Log.Error(e, "Token telemetry could not write a record as EMF; it was dropped and counted as write_error.");
                return;
            }

            if (_records > 0 && _buffer.WrittenCount > _stage._maxBytes)
            {
                // This record would push the batch over max-bytes: it starts the next batch instead.
                _carry = _buffer.WrittenSpan[before..].ToArray();
                _carryRecord = record;
                _buffer.Truncate(before);
                _ready = true;
                return;
            }

            Accept(record, before, events);
        }

        private void Accept(UsageRecord record, int before, int events)
        {
            if (events == 1)
            {
                _eventEnds.Add(_buffer.WrittenCount);
            }
            else
            {
                var written = _buffer.WrittenSpan;
                for (var i = before; i < written.Length; i++)
                {
                    if (written[i] == (byte)'\n')
                    {
                        _eventEnds.Add(i + 1);
                    }
                }
            }

            if (record.Profile.Emitter is { } emit)
            {
                _eventEmitters ??= [];
                while (_eventEmitters.Count < _eventEnds.Count - events)
                {
                    _eventEmitters.Add(null);
                }

                var wrapped = record.Profile.JsonEmitter!;
                for (var i = 0; i < events; i++)
                {
                    _eventEmitters.Add(wrapped);
                }
            }

            _stage._counters.Written(events, events > 1);
            StartTimerIfFirst();

            if (IsFull)
            {
                _ready = true;
            }
        }

        /// <summary>Counts the record and starts the max-delay timer when it is the batch's first.</summary>
        private void StartTimerIfFirst()
        {
            if (_records++ == 0 && _markers.Count == 0)
            {
                ScheduleOnce(Timer, _stage._maxDelay);
            }
        }

        private void TryEmit()
        {
            if (!_ready || !IsAvailable(_stage.Out))
            {
                return;
            }

            if (!IsEmpty)
            {
                Push(_stage.Out, TakeBatch());
            }

            _ready = false;
            CancelTimer(Timer);
            if (_carry is not null)
            {
                var carry = _carry;
                var record = _carryRecord!;
                _carry = null;
                _carryRecord = null;
                carry.CopyTo(_buffer.GetSpan(carry.Length));
                _buffer.Advance(carry.Length);
                Accept(record, 0, CountLines(carry));
            }

            if (_finishing)
            {
                if (IsEmpty)
                {
                    CompleteStage();
                }
                else
                {
                    _ready = true; // pushed on the next pull
                }
            }
        }

        private EmfBatch TakeBatch()
        {
            if (_merger is { RecordCount: > 0 })
            {
                _eventEmitters ??= [];
                try
                {
                    var (events, merged) = _merger.WriteTo(_writer, _buffer, _eventEnds, _eventEmitters);
                    _stage._counters.Written(events, split: false);
                    _stage._counters.Merged(merged);
                }
                catch (Exception e)
                {
                    // Never let a half-written batch out: drop it whole, count it, keep the stream alive.
                    _stage._counters.RecordsDropped(DropReasons.WriteError, _merger.RecordCount);
                    Log.Error(e, "Token telemetry could not write a merged batch of {0} records; they were dropped and counted as write_error.", _merger.RecordCount);
                    _merger.Clear();
                    _buffer.Truncate(0);
                    _eventEnds.Clear();
                    _eventEmitters.Clear();
                    _records = 0;
                }

                if (_eventEmitters.TrueForAll(e => e is null))
                {
                    _eventEmitters.Clear();
                }
            }

            var length = _buffer.WrittenCount;
            var bytes = _buffer.DetachCopy();
            var emitters = _eventEmitters is { Count: > 0 } list ? Pad(list, _eventEnds.Count) : null;
            var batch = new EmfBatch(bytes, length, _eventEnds.ToArray(), _eventEnds.Count, _records, pooled: true, _stage._consumers, emitters, _markers.Count > 0 ? _markers.ToArray() : null);
            _eventEnds.Clear();
            _markers.Clear();
            _eventEmitters?.Clear();
            _records = 0;
            return batch;
        }

        private static JsonEmitter?[] Pad(List<JsonEmitter?> list, int count)
        {
            while (list.Count < count)
            {
                list.Add(null);
            }

            return list.ToArray();
        }

        private static int CountLines(byte[] bytes) => bytes.AsSpan().Count((byte)'\n');
    }
}
