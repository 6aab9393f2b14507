namespace AkkaTokenTelemetry;

/// <summary>
/// The limits of CloudWatch's Embedded Metric Format that this library enforces before anything is sent.
/// CloudWatch never reports a bad payload to the client, so every one of these is checked on our side.
/// </summary>
public static class EmfLimits
{
    /// <summary>Metric definitions in one directive (and so usage keys in one event): 100.</summary>
    public const int MaxMetricsPerEvent = 100;

    /// <summary>Values in one metric array of a merged event: 100.</summary>
    public const int MaxValuesPerMetric = 100;

    /// <summary>Keys in one dimension set: 30.</summary>
    public const int MaxDimensionsPerSet = 30;

    /// <summary>Length of a dimension key, in ASCII characters: 250.</summary>
    public const int MaxDimensionKeyLength = 250;

    /// <summary>Length of a dimension value, in ASCII characters: 1024.</summary>
    public const int MaxDimensionValueLength = 1024;

    /// <summary>Length of a metric name (a usage key): 255.</summary>
    public const int MaxMetricNameLength = 255;

    /// <summary>Length of a namespace, in ASCII characters: 255.</summary>
    public const int MaxNamespaceLength = 255;

    /// <summary>The oldest timestamp CloudWatch accepts, relative to now: 14 days.</summary>
    public static TimeSpan MaxTimestampAge { get; } = TimeSpan.FromDays(14);

    /// <summary>The furthest timestamp in the future CloudWatch accepts, relative to now: 2 hours.</summary>
    public static TimeSpan MaxTimestampAhead { get; } = TimeSpan.FromHours(2);
}
