using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// What <see cref="EmfEmitters.ToActor"/> tells its target for each event: the JSON line and the parsed payload.
/// How tests receive events with a TestKit probe (<c>ExpectMsg&lt;EmfPayloadEmitted&gt;()</c>).
/// </summary>
public sealed class EmfPayloadEmitted
{
    /// <summary>Creates the message.</summary>
    /// <param name="json">The event as one compact JSON line (no newline).</param>
    /// <param name="payload">The event parsed.</param>
    public EmfPayloadEmitted(string json, JsonObject payload)
    {
        Json = json;
        Payload = payload;
    }

    /// <summary>The event as one compact JSON line (no newline), as the stdout emitter writes it.</summary>
    public string Json { get; }

    /// <summary>The event parsed: what <c>EmfPayload.Build</c> returns for the record.</summary>
    public JsonObject Payload { get; }
}
