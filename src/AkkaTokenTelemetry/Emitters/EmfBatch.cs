using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// A batch of EMF events for an <see cref="IEmfEmitter"/>: UTF-8 JSON, one event per line, each line ending in
/// <c>\n</c>, ready to write as it is. A record with more than 100 usage keys is several events of one batch.
/// </summary>
/// <remarks>The memory is pooled and reused once every emitter is done with the batch: read it only while
/// <see cref="IEmfEmitter.EmitAsync"/> runs, and copy what you keep.</remarks>
public sealed class EmfBatch
{
    private readonly byte[] _buffer;
    private readonly int[] _eventEnds;
    private readonly bool _pooled;
    private int _references;
    private int _abandoned;

    internal EmfBatch(byte[] buffer, int length, int[] eventEnds, int count, int recordCount, bool pooled, int references, JsonEmitter?[]? eventEmitters, FlushMarker[]? markers)
    {
        _buffer = buffer;
        Length = length;
        _eventEnds = eventEnds;
        Count = count;
        RecordCount = recordCount;
        _pooled = pooled;
        EventEmitters = eventEmitters;
        Markers = markers;
        _references = references;
    }

    /// <summary>The number of events (lines).</summary>
    public int Count { get; }

    /// <summary>The number of records (invocations) the events came from.</summary>
    public int RecordCount { get; }

    /// <summary>The size of <see cref="Utf8Lines"/> in bytes.</summary>
    public int Length { get; }

    /// <summary>Every event, each followed by <c>\n</c>: what a line-oriented transport writes as it is.</summary>
    public ReadOnlyMemory<byte> Utf8Lines => _buffer.AsMemory(0, Length);

    /// <summary>For each event, the hook's own emitter (only in the hook-emitter branch).</summary>
    internal JsonEmitter?[]? EventEmitters { get; }

    /// <summary>Flush markers that reached the batching stage with (after) this batch's records.</summary>
    internal FlushMarker[]? Markers { get; }

    /// <summary>One event, without its newline.</summary>
    /// <param name="index">0 to <see cref="Count"/> - 1.</param>
    public ReadOnlyMemory<byte> GetEvent(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var start = index == 0 ? 0 : _eventEnds[index - 1];
        return _buffer.AsMemory(start, _eventEnds[index] - start - 1);
    }

    /// <summary>One event as JSON text (one line, no newline).</summary>
    /// <param name="index">0 to <see cref="Count"/> - 1.</param>
    public string GetJson(int index) => Encoding.UTF8.GetString(GetEvent(index).Span);

    /// <summary>One event parsed: the same JSON that <c>EmfPayload.Build</c> returns for its record.</summary>
    /// <param name="index">0 to <see cref="Count"/> - 1.</param>
    public JsonObject GetPayload(int index) => (JsonObject)JsonNode.Parse(GetEvent(index).Span)!;

    /// <summary>Gives the batch <paramref name="count"/> more owners; each calls <see cref="Release"/> once.</summary>
    internal void Retain(int count) => Interlocked.Add(ref _references, count);

    /// <summary>Called by each owner when done; the last one returns the memory to the pool.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0 && _pooled && Volatile.Read(ref _abandoned) == 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }

    /// <summary>
    /// An emitter attempt was abandoned while it may still read the memory: never reuse it (the garbage collector
    /// takes it instead), so a late reader can never see another batch's bytes.
    /// </summary>
    internal void Abandon() => Volatile.Write(ref _abandoned, 1);

    /// <summary>Tells every flush marker carried by this batch that one branch is done with it.</summary>
    internal void CompleteMarkers()
    {
        if (Markers is null)
        {
            return;
        }

        foreach (var marker in Markers)
        {
            marker.Arrive();
        }
    }
}

/// <summary>A hook's own emitter, wrapped so a batch can carry it per event.</summary>
internal sealed class JsonEmitter(Action<JsonObject> emit)
{
    public Action<JsonObject> Emit { get; } = emit;
}
