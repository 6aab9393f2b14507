namespace AkkaTokenTelemetry;

/// <summary>What one invocation returned, as far as token telemetry is concerned.</summary>
public sealed class AgentResult
{
    /// <summary>
    /// This invocation's token counters, for example <c>inputTokens</c>, <c>outputTokens</c>, <c>totalTokens</c>,
    /// <c>cacheReadInputTokens</c>, <c>cacheWriteInputTokens</c>. Each key becomes a metric with unit <c>Count</c>.
    /// Usage is per invocation, not accumulated over the agent's life.
    /// </summary>
    public required IReadOnlyDictionary<string, long> Usage { get; init; }

    /// <summary>The model that answered (as the response names it); the automatic value of the <c>Model</c> dimension.</summary>
    public string? Model { get; init; }

    /// <summary>Why generation stopped (for example <c>end_turn</c> or <c>tool_use</c>), for resolvers.</summary>
    public string? StopReason { get; init; }

    /// <summary>The framework's own response object, for resolvers that need more than the fields above.</summary>
    public object? Raw { get; init; }
}
