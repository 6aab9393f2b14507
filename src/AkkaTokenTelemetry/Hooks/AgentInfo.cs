namespace AkkaTokenTelemetry;

/// <summary>
/// The agent that made an invocation: where the automatic <c>Agent</c>, <c>Provider</c> and (as a fallback)
/// <c>Model</c> dimension values come from.
/// </summary>
public sealed class AgentInfo
{
    /// <summary>The agent's name; the automatic value of the <c>Agent</c> dimension.</summary>
    public string? Name { get; init; }

    /// <summary>The agent's id, for resolvers and properties; not used automatically.</summary>
    public string? Id { get; init; }

    /// <summary>The model provider's name (for example <c>openai</c> or <c>bedrock</c>); the automatic value of the <c>Provider</c> dimension.</summary>
    public string? ProviderName { get; init; }

    /// <summary>The model the agent uses unless a response names another; the <c>Model</c> dimension when <see cref="AgentResult.Model"/> is null.</summary>
    public string? DefaultModelId { get; init; }
}
