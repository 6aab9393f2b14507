namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary>How <see cref="TokenTelemetryChatClient"/> records each call.</summary>
public sealed class TokenTelemetryChatClientOptions
{
    /// <summary>The hook that records each call. The default value is null: the <see cref="TokenUsageHook"/> of the
    /// service provider the chat client is built with (else the default hook of its <c>ActorSystem</c>).</summary>
    public TokenUsageHook? Hook { get; set; }

    /// <summary>The <c>Agent</c> dimension's value. The default value is null: the name of the Agent Framework agent
    /// running the call (<c>AIAgent.CurrentRunContext</c>), if any.</summary>
    public string? AgentName { get; set; }

    /// <summary>Keys of <c>UsageDetails.AdditionalCounts</c> to emit as metrics of the same name (for example
    /// <c>"InputTokenDetails.AudioTokenCount"</c>). The default value is empty: none beyond the mapped ones.</summary>
    public IList<string> AdditionalCounts { get; } = [];
}

/// <summary>How <see cref="TokenTelemetryAgent"/> records each run.</summary>
public sealed class TokenTelemetryAgentOptions
{
    /// <summary>The hook that records each run. The default value is null: the <see cref="TokenUsageHook"/> of the
    /// service provider the agent is built with (else the default hook of its <c>ActorSystem</c>).</summary>
    public TokenUsageHook? Hook { get; set; }

    /// <summary>Keys of <c>UsageDetails.AdditionalCounts</c> to emit as metrics of the same name. The default value is empty.</summary>
    public IList<string> AdditionalCounts { get; } = [];
}
