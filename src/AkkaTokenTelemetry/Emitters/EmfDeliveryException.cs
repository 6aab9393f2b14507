namespace AkkaTokenTelemetry;

/// <summary>
/// Thrown by an <see cref="IEmfEmitter"/> to say more about a failed delivery than "try again": that retrying cannot
/// help (<see cref="IsPermanent"/>: the batch is dropped at once and counted as <see cref="DropReasons.Rejected"/>,
/// and the emitter is not restarted), or how long the receiver asked to be left alone (<see cref="RetryAfter"/>).
/// </summary>
/// <remarks>Any other exception from an emitter counts as a transient failure: the batch is retried with backoff.</remarks>
public sealed class EmfDeliveryException : Exception
{
    /// <summary>Creates a transient delivery failure.</summary>
    public EmfDeliveryException()
        : this("The EMF batch could not be delivered.")
    {
    }

    /// <summary>Creates a transient delivery failure.</summary>
    /// <param name="message">What went wrong, for the log.</param>
    public EmfDeliveryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates a transient delivery failure with its cause.</summary>
    /// <param name="message">What went wrong, for the log.</param>
    /// <param name="innerException">The cause.</param>
    public EmfDeliveryException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// True when the receiver refused the batch for good (an HTTP 400, say): it is dropped without retries, counted
    /// as <see cref="DropReasons.Rejected"/>, and the emitter keeps running.
    /// </summary>
    public bool IsPermanent { get; init; }

    /// <summary>
    /// How long the receiver asked to wait before the next attempt (an HTTP <c>Retry-After</c>), or null for the
    /// emitter's own backoff. Honoured up to the emitter's <c>backoff.max</c>.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }
}
