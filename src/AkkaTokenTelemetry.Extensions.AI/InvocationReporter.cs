using System.Diagnostics;
using System.Runtime.CompilerServices;
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

    /// <summary>Sums one update; an update the sum cannot read (a null one, say) is passed on and not counted.</summary>
    private static void Observe<T>(Action<StreamedUsage, T> observe, StreamedUsage streamed, T update)
    {
        try
        {
            observe(streamed, update);
        }
#pragma warning disable CA1031 // telemetry never fails the caller's call
        catch (Exception)
        {
        }
#pragma warning restore CA1031
    }

    /// <summary>
    /// Passes <paramref name="updates"/> through unchanged while summing what they report, and reports the call once
    /// when the enumeration ends: completed, stopped early by the caller, or failed.
    /// </summary>
    /// <param name="hook">Records the call.</param>
    /// <param name="additionalCounts">Extra <see cref="UsageDetails.AdditionalCounts"/> keys to include.</param>
    /// <param name="updates">The wrapped stream.</param>
    /// <param name="describe">Who is calling; evaluated when the enumeration starts, in the caller's context.</param>
    /// <param name="observe">Feeds one update's contents, model id and finish reason to the sum.</param>
    /// <param name="cancellationToken">The caller's token, passed to the wrapped stream.</param>
    public static async IAsyncEnumerable<T> ReportStreamAsync<T>(
        TokenUsageHook hook,
        IEnumerable<string> additionalCounts,
        IAsyncEnumerable<T> updates,
        Func<AgentInfo> describe,
        Action<StreamedUsage, T> observe,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var agent = describe();
        var streamed = new StreamedUsage();
        Exception? failure = null;
        var enumerator = updates.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                T update;
                try
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = enumerator.Current;
                }
                catch (Exception e)
                {
                    failure = e;
                    throw;
                }

                Observe(observe, streamed, update);
                yield return update;
            }
        }
        finally
        {
            try
            {
                await enumerator.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                Report(hook, additionalCounts, agent, streamed.Usage, streamed.ModelId, streamed.FinishReason, null, failure, start);
            }
        }
    }
}
