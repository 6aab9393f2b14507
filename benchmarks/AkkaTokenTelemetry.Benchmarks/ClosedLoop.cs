using System.Diagnostics;

namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>
/// Drives hooks as fast as the pipeline delivers: at most <see cref="Window"/> records are sent and not yet
/// delivered, so a run measures the sustainable rate and never has to drop.
/// </summary>
internal static class ClosedLoop
{
    /// <summary>Records the producer may have in flight before it waits.</summary>
    public const int Window = 50_000;

    /// <summary>Calls the hooks in turn, each with its event, for <paramref name="duration"/>; returns the records sent.</summary>
    /// <param name="hooks">The hooks, one per event.</param>
    /// <param name="events">The events, one per hook.</param>
    /// <param name="delivered">Reads how many records have been delivered so far.</param>
    /// <param name="duration">How long to produce.</param>
    public static long Produce(TokenUsageHook[] hooks, AfterInvocationEvent[] events, Func<long> delivered, TimeSpan duration)
    {
        long sent = 0;
        var start = delivered();
        var watch = Stopwatch.StartNew();
        var n = 0;
        while (watch.Elapsed < duration)
        {
            for (var i = 0; i < 1000; i++)
            {
                hooks[n].OnAfterInvocation(events[n]);
                n = n + 1 == hooks.Length ? 0 : n + 1;
            }

            sent += 1000;
            while (sent - (delivered() - start) > Window)
            {
                Thread.Yield();
            }
        }

        return sent;
    }
}
