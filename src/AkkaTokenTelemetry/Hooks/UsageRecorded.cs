namespace AkkaTokenTelemetry;

/// <summary>
/// The message a <see cref="TokenUsageHook"/> tells its router for one invocation: the event, and a copy of its
/// usage taken on the caller's thread (so a dictionary the caller reuses cannot change what is emitted).
/// A <c>TestProbe</c> standing in for the router receives exactly this.
/// </summary>
public sealed class UsageRecorded
{
    private readonly KeyValuePair<string, long>[] _usage;

    internal UsageRecorded(HookConfig config, AfterInvocationEvent @event, KeyValuePair<string, long>[] usage, bool countsInMailbox)
    {
        CountsInMailbox = countsInMailbox;
        Config = config;
        Event = @event;
        _usage = usage;
    }

    /// <summary>The invocation's event, as the hook received it (its <see cref="AfterInvocationEvent.Result"/> is never null here).</summary>
    public AfterInvocationEvent Event { get; }

    /// <summary>The usage counters, copied when the hook was called, in the order the result listed them.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Usage => _usage;

    /// <summary>The options of the hook that sent this (null properties: taken from HOCON).</summary>
    public TokenUsageHookOptions Options => Config.Options;

    internal HookConfig Config { get; }

    /// <summary>Whether the hook claimed a mailbox place for this message (the router gives it back).</summary>
    internal bool CountsInMailbox { get; }

    internal KeyValuePair<string, long>[] UsageArray => _usage;
}
