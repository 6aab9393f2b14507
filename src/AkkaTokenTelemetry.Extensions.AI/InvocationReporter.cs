using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary>Sums what a streamed response reports: usage, the first model id, the last finish reason.</summary>
internal sealed class StreamedUsage
{
    public UsageDetails? Usage { get; private set; }

    public string? ModelId { get; private set; }

    public string? FinishReason { get; private set; }

    public void Observe(IList<AIContent> contents, string? modelId, ChatFinishReason? finishReason)
    {
        ModelId ??= modelId;
        if (finishReason is { } reason)
        {
            FinishReason = reason.Value;
        }

        foreach (var content in contents)
        {
            if (content is UsageContent { Details: { } details })
            {
                (Usage ??= new UsageDetails()).Add(details);
            }
        }
    }
}

/// <summary>Builds the <see cref="AfterInvocationEvent"/> of one call and hands it to the hook, never throwing.</summary>
internal static class InvocationReporter
{
    public static void Report(
        TokenUsageHook hook,
        IEnumerable<string> additionalCounts,
        AgentInfo agent,
        UsageDetails? usage,
        string? model,
        string? stopReason,
        object? raw,
        Exception? exception,
        long startTimestamp)
    {
        try
        {
            var counts = TokenUsageMapping.ToUsage(usage, additionalCounts);
            if (counts.Count == 0)
            {
                return; // no usage reported: nothing to emit (a failed call included)
            }

            hook.OnAfterInvocation(new AfterInvocationEvent
            {
                Agent = agent,
                Result = new AgentResult { Usage = counts, Model = model ?? agent.DefaultModelId, StopReason = stopReason, Raw = raw },
                Exception = exception,
                Duration = Stopwatch.GetElapsedTime(startTimestamp),
            });
        }
#pragma warning disable CA1031 // telemetry never fails the caller's call
        catch (Exception)
        {
        }
#pragma warning restore CA1031
    }
}
