namespace AkkaTokenTelemetry;

/// <summary>
/// The event an agent framework raises after each invocation: the C# form of the Strands <c>AfterInvocationEvent</c>.
/// Hand it to <see cref="TokenUsageHook.OnAfterInvocation"/>.
/// </summary>
public sealed class AfterInvocationEvent
{
    /// <summary>The agent that was invoked.</summary>
    public required AgentInfo Agent { get; init; }

    /// <summary>The invocation's result; null when it failed without reporting usage (then nothing is emitted).</summary>
    public AgentResult? Result { get; init; }

    /// <summary>The exception the invocation failed with, if any. A failed call that reported usage still emits it.</summary>
    public Exception? Exception { get; init; }

    /// <summary>When the invocation ended; the event's EMF timestamp. The default value is the time the event was created.</summary>
    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>How long the invocation took.</summary>
    public TimeSpan Duration { get; init; }
}
