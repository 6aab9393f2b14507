namespace AkkaTokenTelemetry;

/// <summary>
/// Delivers batches of EMF events somewhere: stdout, the CloudWatch agent, a file, a test probe. Each emitter is
/// owned by one <c>EmitterSinkActor</c>, which calls it with one batch at a time, enforces <c>ask-timeout</c> on every
/// attempt, retries failures with backoff, and drops (and counts) a batch once its retries are exhausted.
/// </summary>
/// <remarks>
/// <para>Throw (or fault the task) when a batch could not be delivered: it is then retried. Return normally only
/// once the batch is delivered. Observe the <see cref="CancellationToken"/>: it is cancelled when the attempt's
/// time is up or the pipeline stops.</para>
/// <para>The batch's memory is pooled: read it only until the returned task completes, and copy what you keep.</para>
/// <para>Calls do not overlap while the emitter honours its token. An attempt that ignores the token past
/// <c>ask-timeout</c> is abandoned (its batch's memory is never reused) and the next attempt may start while it still
/// runs; an emitter created from configuration is not disposed until that call returns.</para>
/// <para>An emitter that implements <see cref="IDisposable"/> or <see cref="IAsyncDisposable"/> and was created by
/// the pipeline from configuration is disposed when the pipeline stops or the emitter is restarted.</para>
/// </remarks>
public interface IEmfEmitter
{
    /// <summary>Delivers every event of <paramref name="batch"/>.</summary>
    /// <param name="batch">One or more EMF events, each a line of UTF-8 JSON.</param>
    /// <param name="cancellationToken">Cancelled when this attempt's time is up or the pipeline stops.</param>
    /// <returns>A task that completes when the batch is delivered, and faults when it was not.</returns>
    ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken);
}
