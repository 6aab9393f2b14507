using Microsoft.Extensions.Time.Testing;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>Standard inputs shared by the EMF tests.</summary>
public static class EmfSamples
{
    /// <summary>A fixed "now" for tests that depend on the clock: 2026-12-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset Now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    public static long NowMs => Now.ToUnixTimeMilliseconds();

    public static FakeTimeProvider Clock() => new(Now);

    public static readonly IReadOnlyDictionary<string, long> Usage = new Dictionary<string, long>
    {
        ["inputTokens"] = 1523,
        ["outputTokens"] = 842,
        ["totalTokens"] = 2365,
        ["cacheReadInputTokens"] = 512,
        ["cacheWriteInputTokens"] = 128,
    };

    public static readonly IReadOnlyList<IReadOnlyList<string>> Dimensions = [["Model"], ["Model", "Agent"]];

    public static readonly IReadOnlyDictionary<string, string> DimensionValues = new Dictionary<string, string>
    {
        ["Model"] = "us.anthropic.claude-sonnet-4-20250514-v1:0",
        ["Agent"] = "research-agent",
    };

    public static readonly IReadOnlyDictionary<string, object?> ExtraProperties = new Dictionary<string, object?>
    {
        ["UserId"] = "user-12345",
        ["SessionId"] = "sess-9f8e7d6c-5b4a-3210",
    };

    public const string Namespace = "Strands/AgentTokenUsage";
}
