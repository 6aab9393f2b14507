using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// Builds CloudWatch Embedded Metric Format (EMF) payloads: the C# form of the seed's <c>build_emf_payload</c>.
/// </summary>
public static class EmfPayload
{
    /// <summary>
    /// Builds one EMF event from one invocation's token usage. Pure: the same input gives the same output, and
    /// nothing is written anywhere.
    /// </summary>
    /// <param name="usage">Token counters; each key becomes a metric with unit <c>Count</c>. 1 to 100 keys, each count 0 or more.</param>
    /// <param name="namespace">The CloudWatch namespace: 1 to 255 ASCII letters, digits, spaces and <c>. _ - / # :</c>; not starting with <c>AWS/</c>.</param>
    /// <param name="dimensions">Dimension sets, each at most 30 keys. An empty list gives <c>"Dimensions":[[]]</c> (metrics with no dimensions).</param>
    /// <param name="dimensionValues">One value for every key of <paramref name="dimensions"/>, and no others: 1 to 1024 printable ASCII characters each.</param>
    /// <param name="extraProperties">Top-level members that CloudWatch Logs Insights can query but that are not dimensions. Not <c>_aws</c>, not a dimension key, not a usage key. Values must be plain JSON (see remarks).</param>
    /// <param name="timestampMs">Epoch milliseconds; defaults to now. At most 14 days old and 2 hours ahead.</param>
    /// <returns>
    /// <c>{"_aws":{"Timestamp":…,"CloudWatchMetrics":[{"Namespace":…,"Dimensions":[[…]],"Metrics":[{"Name":…,"Unit":"Count"},…]}]},</c>
    /// then the dimension values (in the order their keys first appear in <paramref name="dimensions"/>), the extra properties and the usage values.
    /// </returns>
    /// <remarks>
    /// Extra property values may be null, strings, booleans, numbers (finite), enums (written by name), <see cref="Guid"/>,
    /// dates and times (ISO 8601), <see cref="JsonNode"/>, <see cref="System.Text.Json.JsonElement"/>, dictionaries with string
    /// keys and sequences of these. One call builds one event: more than 100 usage keys is an error here (the pipeline
    /// splits such records into several events instead).
    /// </remarks>
    /// <exception cref="EmfValidationException">An input breaks an EMF rule; the message names the field, the value and the rule.</exception>
    public static JsonObject Build(
        IReadOnlyDictionary<string, long> usage,
        string @namespace,
        IReadOnlyList<IReadOnlyList<string>> dimensions,
        IReadOnlyDictionary<string, string> dimensionValues,
        IReadOnlyDictionary<string, object?>? extraProperties = null,
        long? timestampMs = null) =>
        Build(usage, @namespace, dimensions, dimensionValues, extraProperties, timestampMs, TimeProvider.System);

    /// <summary><see cref="Build(IReadOnlyDictionary{string, long}, string, IReadOnlyList{IReadOnlyList{string}}, IReadOnlyDictionary{string, string}, IReadOnlyDictionary{string, object?}?, long?)"/> with an injected clock.</summary>
    internal static JsonObject Build(
        IReadOnlyDictionary<string, long> usage,
        string @namespace,
        IReadOnlyList<IReadOnlyList<string>> dimensions,
        IReadOnlyDictionary<string, string> dimensionValues,
        IReadOnlyDictionary<string, object?>? extraProperties,
        long? timestampMs,
        TimeProvider timeProvider)
    {
        var context = EmfContext.Create(@namespace, dimensions, extraProperties);
        var values = ResolveDimensionValues(context, dimensionValues);
        var entries = ValidateUsage(context, usage);
        var nowMs = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var timestamp = timestampMs ?? nowMs;
        EmfRules.ValidateTimestamp(timestamp, nowMs);
        return ToJsonObject(context, values, entries, timestamp);
    }

    /// <summary>Checks the dimension values against the context and returns them in <see cref="EmfContext.DimensionKeys"/> order.</summary>
    internal static string[] ResolveDimensionValues(EmfContext context, IReadOnlyDictionary<string, string>? dimensionValues)
    {
        if (dimensionValues is null)
        {
            throw new EmfValidationException("dimensionValues", null, "dimension values are required; pass an empty dictionary when there are no dimensions");
        }

        foreach (var (key, value) in dimensionValues)
        {
            var field = $"dimensionValues[\"{key}\"]";
            if (context.IndexOfDimensionKey(key) < 0)
            {
                throw new EmfValidationException(field, value, "every dimension value needs its key declared in a dimension set");
            }

            EmfRules.ValidateDimensionValue(value, field);
        }

        var values = new string[context.DimensionKeys.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var key = context.DimensionKeys[i];
            if (!dimensionValues.TryGetValue(key, out var value))
            {
                throw new EmfValidationException($"dimensionValues[\"{key}\"]", null, "every declared dimension key needs a value (CloudWatch extracts no metric when one is missing)");
            }

            values[i] = value;
        }

        return values;
    }

    private static UsageEntry[] ValidateUsage(EmfContext context, IReadOnlyDictionary<string, long>? usage)
    {
        if (usage is null || usage.Count == 0)
        {
            throw new EmfValidationException("usage", usage is null ? null : "{}", "at least one usage key is required: an event without metrics extracts nothing");
        }

        if (usage.Count > EmfLimits.MaxMetricsPerEvent)
        {
            throw new EmfValidationException("usage", $"{usage.Count} keys", $"one event holds at most {EmfLimits.MaxMetricsPerEvent} metrics; the pipeline splits larger records into several events");
        }

        var entries = new UsageEntry[usage.Count];
        var index = 0;
        foreach (var (name, value) in usage)
        {
            var field = $"usage[\"{name}\"]";
            EmfRules.ValidateMetricName(name, field);
            if (context.IndexOfDimensionKey(name) >= 0)
            {
                throw new EmfValidationException(field, name, "a usage key cannot have the name of a dimension key");
            }

            if (context.HasProperty(name))
            {
                throw new EmfValidationException($"extraProperties[\"{name}\"]", name, "an extra property cannot have the name of a usage key (the metric value would be lost)");
            }

            EmfRules.ValidateCount(value, field);
            entries[index++] = new UsageEntry(name, value);
        }

        return entries;
    }

    /// <summary>The JSON object for one event of already valid input (the writer's output, as a DOM).</summary>
    internal static JsonObject ToJsonObject(EmfContext context, string[] dimensionValues, ReadOnlySpan<UsageEntry> usage, long timestampMs)
    {
        var sets = new JsonArray();
        if (context.DimensionSets.Length == 0)
        {
            sets.Add((JsonNode)new JsonArray());
        }

        foreach (var set in context.DimensionSets)
        {
            var array = new JsonArray();
            foreach (var key in set)
            {
                array.Add((JsonNode)JsonValue.Create(key));
            }

            sets.Add((JsonNode)array);
        }

        var metrics = new JsonArray();
        foreach (var entry in usage)
        {
            var definition = new JsonObject { ["Name"] = entry.Name, ["Unit"] = "Count" };
            if (context.StorageResolution == 1)
            {
                definition["StorageResolution"] = 1;
            }

            metrics.Add((JsonNode)definition);
        }

        var root = new JsonObject
        {
            ["_aws"] = new JsonObject
            {
                ["Timestamp"] = timestampMs,
                ["CloudWatchMetrics"] = new JsonArray(
                    new JsonObject
                    {
                        ["Namespace"] = context.Namespace,
                        ["Dimensions"] = sets,
                        ["Metrics"] = metrics,
                    }),
            },
        };

        for (var i = 0; i < dimensionValues.Length; i++)
        {
            root[context.DimensionKeys[i]] = dimensionValues[i];
        }

        foreach (var (name, value) in context.Properties)
        {
            if (!ContainsMetric(usage, name))
            {
                root[name] = value?.DeepClone();
            }
        }

        foreach (var entry in usage)
        {
            root[entry.Name] = entry.Value;
        }

        return root;
    }

    private static bool ContainsMetric(ReadOnlySpan<UsageEntry> usage, string name)
    {
        foreach (var entry in usage)
        {
            if (string.Equals(entry.Name, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
