using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>Records every event it receives (parsed), checking each line is valid EMF.</summary>
public sealed class CollectingEmitter : IEmfEmitter
{
    private readonly ConcurrentQueue<JsonObject> _events = new();
    private long _records;
    private long _batches;

    public IReadOnlyCollection<JsonObject> Events => _events;

    public long Records => Interlocked.Read(ref _records);

    public long Batches => Interlocked.Read(ref _batches);

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            _events.Enqueue(EmfAssert.ValidLine(batch.GetEvent(i).Span));
        }

        Interlocked.Add(ref _records, batch.RecordCount);
        Interlocked.Increment(ref _batches);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Counts records and remembers each record's "seq" usage value, to prove no loss and no duplicates.</summary>
public sealed class SequenceEmitter : IEmfEmitter
{
    private readonly ConcurrentDictionary<long, int> _seen = new();
    private long _records;
    private long _duplicates;

    public long Records => Interlocked.Read(ref _records);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public int Distinct => _seen.Count;

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var e = batch.GetPayload(i);
            var seq = e["seq"]!.GetValue<long>();
            if (_seen.AddOrUpdate(seq, 1, (_, n) => n + 1) > 1)
            {
                Interlocked.Increment(ref _duplicates);
            }
        }

        Interlocked.Add(ref _records, batch.RecordCount);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Fails its first <c>failures</c> calls (or every call), then delivers to an inner emitter.</summary>
public sealed class FailingEmitter(int failures, IEmfEmitter? inner = null) : IEmfEmitter
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        var call = Interlocked.Increment(ref _calls);
        if (failures < 0 || call <= failures)
        {
            throw new IOException($"simulated failure {call}");
        }

        return inner?.EmitAsync(batch, cancellationToken) ?? ValueTask.CompletedTask;
    }
}

/// <summary>Delivers to an inner emitter after a delay, to make flush ordering observable.</summary>
public sealed class SlowEmitter(TimeSpan delay, IEmfEmitter inner) : IEmfEmitter
{
    public async ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        await Task.Delay(delay, cancellationToken);
        await inner.EmitAsync(batch, cancellationToken);
    }
}

/// <summary>Never completes and ignores its cancellation token: the worst emitter there is.</summary>
public sealed class StalledEmitter : IEmfEmitter
{
    private readonly TaskCompletionSource _never = new();
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        return new ValueTask(_never.Task);
    }
}

/// <summary>Fails a given share of its calls (seeded, so a run can be repeated), delivering the others to an inner emitter.</summary>
public sealed class FlakyEmitter(double failRate, int seed, IEmfEmitter inner) : IEmfEmitter
{
    private readonly Random _random = new(seed);
    private int _failures;

    public int Failures => Volatile.Read(ref _failures);

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        bool fail;
        lock (_random)
        {
            fail = _random.NextDouble() < failRate;
        }

        if (fail)
        {
            Interlocked.Increment(ref _failures);
            throw new IOException("simulated intermittent failure");
        }

        return inner.EmitAsync(batch, cancellationToken);
    }
}

/// <summary>Only counts: a receiver as fast as can be, for tests about volume rather than content.</summary>
public sealed class CountingEmitter : IEmfEmitter
{
    private long _records;

    public long Records => Interlocked.Read(ref _records);

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _records, batch.RecordCount);
        return ValueTask.CompletedTask;
    }
}
