using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// How one <see cref="TokenUsageHook"/> builds its events. Every property left null takes its value from the HOCON
/// section <c>akka.token-telemetry</c> (whose defaults are in the embedded <c>reference.conf</c>).
/// </summary>
public sealed class TokenUsageHookOptions
{
    /// <summary>The CloudWatch namespace. The default value is HOCON <c>namespace</c>: <c>"Strands/AgentTokenUsage"</c>.</summary>
    public string? Namespace { get; init; }

    /// <summary>Dimension sets, each at most 30 keys; empty for none. The default value is HOCON <c>dimensions</c>: <c>[["Model"]]</c>.</summary>
    public IReadOnlyList<IReadOnlyList<string>>? Dimensions { get; init; }

    /// <summary>
    /// Static dimension values; every key must appear in <see cref="Dimensions"/>. They override HOCON
    /// <c>dimension-values</c> key by key, and the automatic <c>Model</c>/<c>Agent</c>/<c>Provider</c> values.
    /// </summary>
    public IReadOnlyDictionary<string, string>? DimensionValues { get; init; }

    /// <summary>
    /// Called for each invocation, on the pipeline's router actor (never on the agent's thread), with the event;
    /// returns dimension values that win over every other source. A resolver that throws or returns an invalid value
    /// never loses the record: the other sources' values (or <c>"unknown"</c>) are used, and the fix is counted.
    /// </summary>
    public Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>? DimensionResolver { get; init; }

    /// <summary>
    /// Top-level properties of every event (queryable in Logs Insights, not dimensions): not <c>_aws</c>, not a
    /// dimension key. They are added to HOCON <c>extra-properties</c>, overriding it key by key.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? ExtraProperties { get; init; }

    /// <summary>
    /// Where this hook's events go instead of the HOCON <c>emitters</c>: receives, per event, exactly what
    /// <see cref="EmfPayload.Build(IReadOnlyDictionary{string, long}, string, IReadOnlyList{IReadOnlyList{string}}, IReadOnlyDictionary{string, string}, IReadOnlyDictionary{string, object?}?, long?)"/>
    /// would return. Runs on the pipeline, never on the agent's thread. The default value (null) sends to the HOCON
    /// <c>emitters</c> list (by default: stdout).
    /// </summary>
    public Action<JsonObject>? Emitter { get; init; }
}
