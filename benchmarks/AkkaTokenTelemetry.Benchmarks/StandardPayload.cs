namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>The standard payload every benchmark writes: what one agent call typically reports.</summary>
internal static class StandardPayload
{
    public const string Namespace = "Strands/AgentTokenUsage";
    public const string Model = "us.anthropic.claude-sonnet-4-20250514-v1:0";
    public const string Agent = "research-agent";
    public const string UserId = "user-12345";
    public const string SessionId = "sess-9f8e7d6c-5b4a-3210";

    public static readonly IReadOnlyList<IReadOnlyList<string>> Dimensions = [["Model"], ["Model", "Agent"]];

    public static readonly IReadOnlyDictionary<string, string> DimensionValues =
        new Dictionary<string, string> { ["Model"] = Model, ["Agent"] = Agent };

    public static readonly IReadOnlyDictionary<string, object?> ExtraProperties =
        new Dictionary<string, object?> { ["UserId"] = UserId, ["SessionId"] = SessionId };

    public static readonly IReadOnlyList<KeyValuePair<string, long>> Usage =
    [
        new("inputTokens", 1523),
        new("outputTokens", 842),
        new("totalTokens", 2365),
        new("cacheReadInputTokens", 512),
        new("cacheWriteInputTokens", 128),
    ];

    /// <summary>The same data as plain arrays, so the baseline pays for no enumerator.</summary>
    public static readonly string[][] DimensionArrays = [["Model"], ["Model", "Agent"]];

    public static readonly KeyValuePair<string, long>[] UsageArray = [.. Usage];

    public static readonly IReadOnlyDictionary<string, long> UsageMap = Usage.ToDictionary(p => p.Key, p => p.Value);
}
