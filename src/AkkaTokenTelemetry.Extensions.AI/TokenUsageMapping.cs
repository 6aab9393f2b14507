using Microsoft.Extensions.AI;

namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary>
/// Maps Microsoft.Extensions.AI <see cref="UsageDetails"/> to the usage keys of an EMF event (the Strands names).
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>metric</term><description>from <see cref="UsageDetails"/></description></listheader>
/// <item><term><c>inputTokens</c></term><description><see cref="UsageDetails.InputTokenCount"/></description></item>
/// <item><term><c>outputTokens</c></term><description><see cref="UsageDetails.OutputTokenCount"/></description></item>
/// <item><term><c>totalTokens</c></term><description><see cref="UsageDetails.TotalTokenCount"/>, else input + output (those present)</description></item>
/// <item><term><c>cacheReadInputTokens</c></term><description><see cref="UsageDetails.CachedInputTokenCount"/></description></item>
/// <item><term><c>cacheWriteInputTokens</c></term><description><c>AdditionalCounts["CacheCreationInputTokens"]</c></description></item>
/// <item><term><c>reasoningTokens</c></term><description><see cref="UsageDetails.ReasoningTokenCount"/></description></item>
/// <item><term>the key itself</term><description>other <see cref="UsageDetails.AdditionalCounts"/> entries, only those named in the list passed in</description></item>
/// </list>
/// A null count is omitted, never written as 0.
/// </remarks>
public static class TokenUsageMapping
{
    /// <summary>The <see cref="UsageDetails.AdditionalCounts"/> key mapped to <c>cacheWriteInputTokens</c> (as the Anthropic client reports cache writes).</summary>
    public const string CacheCreationInputTokensKey = "CacheCreationInputTokens";

    /// <summary>Maps <paramref name="usage"/> to EMF usage keys; empty when it is null or holds no count.</summary>
    /// <param name="usage">The usage a response reported.</param>
    /// <param name="additionalCounts">Keys of <see cref="UsageDetails.AdditionalCounts"/> to include as metrics of the same name; null includes none.</param>
    /// <returns>A new dictionary, metric name to count.</returns>
    public static Dictionary<string, long> ToUsage(UsageDetails? usage, IEnumerable<string>? additionalCounts = null)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        if (usage is null)
        {
            return result;
        }

        Put(result, "inputTokens", usage.InputTokenCount);
        Put(result, "outputTokens", usage.OutputTokenCount);
        var total = usage.TotalTokenCount;
        if (total is null && (usage.InputTokenCount is not null || usage.OutputTokenCount is not null))
        {
            total = (usage.InputTokenCount ?? 0) + (usage.OutputTokenCount ?? 0);
        }

        Put(result, "totalTokens", total);
        Put(result, "cacheReadInputTokens", usage.CachedInputTokenCount);
        if (usage.AdditionalCounts is { } counts)
        {
            if (counts.TryGetValue(CacheCreationInputTokensKey, out var cacheWrite))
            {
                result["cacheWriteInputTokens"] = cacheWrite;
            }

            if (additionalCounts is not null)
            {
                foreach (var key in additionalCounts)
                {
                    if (key != CacheCreationInputTokensKey && counts.TryGetValue(key, out var value))
                    {
                        result.TryAdd(key, value);
                    }
                }
            }
        }

        Put(result, "reasoningTokens", usage.ReasoningTokenCount);
        return result;
    }

    private static void Put(Dictionary<string, long> result, string key, long? value)
    {
        if (value is { } count)
        {
            result[key] = count;
        }
    }
}
