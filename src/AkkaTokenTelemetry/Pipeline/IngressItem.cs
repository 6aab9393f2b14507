namespace AkkaTokenTelemetry;

/// <summary>What travels from the router into the stream: a record, or a flush marker behind the records before it.</summary>
internal abstract class IngressItem;

/// <summary>One invocation, resolved and checked by the router: ready to be written as EMF.</summary>
internal sealed class UsageRecord(HookProfile profile, string[] dimensionValues, UsageEntry[] usage, long timestampMs) : IngressItem
{
    public HookProfile Profile { get; } = profile;

    /// <summary>One valid value per <see cref="EmfContext.DimensionKeys"/> entry of the profile's context.</summary>
    public string[] DimensionValues { get; } = dimensionValues;

    /// <summary>At least one valid usage value.</summary>
    public UsageEntry[] Usage { get; } = usage;

    public long TimestampMs { get; } = timestampMs;
}

/// <summary>
/// Follows the records accepted before it through the stream; completes once every emitter branch has delivered
/// (or dropped and counted) the batch that carries it.
/// </summary>
internal sealed class FlushMarker : IngressItem
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pending;

    public FlushMarker(int branches)
    {
        _pending = branches;
        if (branches == 0)
        {
            _done.TrySetResult();
        }
    }

    public Task Done => _done.Task;

    /// <summary>One branch is done with the marker.</summary>
    public void Arrive()
    {
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            _done.TrySetResult();
        }
    }

    /// <summary>Everything before the marker is done (the stream completed normally).</summary>
    public void ForceComplete() => _done.TrySetResult();

    /// <summary>The marker can never arrive (the stream stopped): release the waiter.</summary>
    public void Abort(Exception reason) => _done.TrySetException(reason);
}
