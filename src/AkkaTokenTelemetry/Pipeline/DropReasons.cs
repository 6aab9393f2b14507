namespace AkkaTokenTelemetry;

/// <summary>
/// Why a record, a usage value or a batch was dropped: the <c>reason</c> tag of the drop counters and the keys of
/// <see cref="TokenTelemetryStats.RecordsDropped"/> and <see cref="EmitterStats.RecordsDropped"/>.
/// </summary>
public static class DropReasons
{
    /// <summary>The ingress between router and stream was full.</summary>
    public const string QueueFull = "queue_full";

    /// <summary>The record arrived after shutdown had started, or was still undelivered when <c>shutdown-timeout</c> ran out.</summary>
    public const string Shutdown = "shutdown";

    /// <summary>An emitter's buffer was full (the emitter is slower than the records arrive).</summary>
    public const string BufferFull = "buffer_full";

    /// <summary>An emitter failed a batch on every attempt (<c>max-retries-per-batch</c> retries).</summary>
    public const string RetriesExhausted = "retries_exhausted";

    /// <summary>An emitter did not answer for a batch within its whole retry budget.</summary>
    public const string EmitTimeout = "emit_timeout";

    /// <summary>The hook's options break an EMF rule against the HOCON settings; the record cannot be built.</summary>
    public const string InvalidConfiguration = "invalid_configuration";

    /// <summary>The record had no valid usage value left to emit.</summary>
    public const string NoUsage = "no_usage";

    /// <summary>A hook's own emitter threw for this event.</summary>
    public const string EmitterError = "emitter_error";

    /// <summary>A record could not be resolved or written as EMF (a bug): it was dropped whole, so no malformed line went out.</summary>
    public const string WriteError = "write_error";

    /// <summary>An unexpected error in the hook (the agent never sees it).</summary>
    public const string HookError = "hook_error";

    /// <summary>A usage value below zero (one value dropped; the record's other values are emitted).</summary>
    public const string NegativeCount = "negative_count";

    /// <summary>A usage key that cannot be a metric name: empty, over 255 characters, <c>_aws</c>, or holding a lone UTF-16 surrogate (not Unicode text).</summary>
    public const string InvalidMetricName = "invalid_metric_name";

    /// <summary>A usage key equal to a dimension key: the dimension wins.</summary>
    public const string MetricNamedLikeDimension = "metric_named_like_dimension";

    /// <summary>
    /// The receiver refused the batch for good (an HTTP 4xx other than 408 and 429, or an emitter that threw
    /// <see cref="EmfDeliveryException"/> with <see cref="EmfDeliveryException.IsPermanent"/>): dropped without retries.
    /// </summary>
    public const string Rejected = "rejected";

    /// <summary>An event was over its emitter's size limit even without its extra properties (1 MiB; 256 KiB for the CloudWatch agent over TCP; 65,507 bytes over UDP).</summary>
    public const string TooLarge = "too_large";
}

/// <summary>What the router fixed in a record so that it could still be emitted: the keys of <see cref="TokenTelemetryStats.Fixes"/>.</summary>
public static class FixKinds
{
    /// <summary>A declared dimension had no value (or a blank one) and got <c>missing-dimension-value</c>.</summary>
    public const string MissingDimensionValue = "missing_dimension_value";

    /// <summary>A dimension value held characters that are not printable ASCII, or was over 1024 characters, and was cleaned.</summary>
    public const string SanitizedDimensionValue = "sanitized_dimension_value";

    /// <summary>The dimension resolver threw; the other sources' values were used.</summary>
    public const string ResolverFailed = "resolver_failed";

    /// <summary>The dimension resolver returned a key no dimension set declares; it was ignored.</summary>
    public const string UndeclaredDimension = "undeclared_dimension";

    /// <summary>An extra property had the name of a usage key; the metric won and the property was left out.</summary>
    public const string PropertyNamedLikeMetric = "property_named_like_metric";

    /// <summary>The event's timestamp was more than 14 days old or 2 hours ahead; the time of processing was used.</summary>
    public const string TimestampReplaced = "timestamp_replaced";

    /// <summary>An event was over its emitter's size limit; extra properties were removed from it, largest first, until it fit.</summary>
    public const string PropertiesTrimmed = "properties_trimmed";
}
