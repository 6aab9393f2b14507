using System.Diagnostics;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary>
/// A Microsoft Agent Framework agent that records the token usage of every run of the agent it wraps: one
/// <see cref="AfterInvocationEvent"/> per run, and one per streaming run (recorded when the enumeration ends — also
/// when the caller stops early, or the run fails after usage was reported). What the caller receives is never
/// changed, and telemetry never throws into the run.
/// </summary>
/// <remarks>
/// The agent's <c>Name</c> and <c>Id</c> come from the wrapped agent; the model from the response's raw
/// <see cref="ChatResponse"/> (streaming: the raw <see cref="ChatResponseUpdate"/>s), else the chat client's
/// <see cref="ChatClientMetadata.DefaultModelId"/>; the provider from <see cref="AIAgentMetadata"/>. Usage is the run's
/// total over its tool round trips. Do not also wrap the agent's chat client with <see cref="TokenTelemetryChatClient"/>:
/// each call would be counted twice.
/// </remarks>
public sealed class TokenTelemetryAgent : DelegatingAIAgent
{
    private readonly TokenUsageHook _hook;
    private readonly string[] _additionalCounts;

    /// <summary>Wraps <paramref name="innerAgent"/>.</summary>
    /// <param name="innerAgent">The agent whose runs are recorded.</param>
    /// <param name="hook">Records each run.</param>
    /// <param name="options">Extra counts; <see cref="TokenTelemetryAgentOptions.Hook"/> is ignored here.</param>
    public TokenTelemetryAgent(AIAgent innerAgent, TokenUsageHook hook, TokenTelemetryAgentOptions? options = null)
        : base(innerAgent)
    {
        ArgumentNullException.ThrowIfNull(hook);
        _hook = hook;
        _additionalCounts = options?.AdditionalCounts.ToArray() ?? [];
    }

    /// <inheritdoc/>
    protected override async Task<AgentResponse> RunCoreAsync(IEnumerable<ChatMessage> messages, AgentSession? session = null, AgentRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var response = await base.RunCoreAsync(messages, session, options, cancellationToken).ConfigureAwait(false);
        InvocationReporter.Report(_hook, _additionalCounts, Describe(), response.Usage, (response.RawRepresentation as ChatResponse)?.ModelId, response.FinishReason?.Value, response, null, start);
        return response;
    }

    /// <inheritdoc/>
    protected override IAsyncEnumerable<AgentResponseUpdate> RunCoreStreamingAsync(
        IEnumerable<ChatMessage> messages,
        AgentSession? session = null,
        AgentRunOptions? options = null,
        CancellationToken cancellationToken = default)
        => InvocationReporter.ReportStreamAsync(
            _hook,
            _additionalCounts,
            base.RunCoreStreamingAsync(messages, session, options, cancellationToken),
            Describe,
            static (streamed, update) => streamed.Observe(update.Contents, (update.RawRepresentation as ChatResponseUpdate)?.ModelId, update.FinishReason),
            cancellationToken);

    private AgentInfo Describe()
    {
        try
        {
            var chat = GetService<ChatClientMetadata>();
            return new AgentInfo
            {
                Name = Name,
                Id = Id,
                ProviderName = GetService<AIAgentMetadata>()?.ProviderName ?? chat?.ProviderName,
                DefaultModelId = chat?.DefaultModelId,
            };
        }
#pragma warning disable CA1031 // telemetry never fails the caller's run
        catch (Exception)
        {
            return new AgentInfo();
        }
#pragma warning restore CA1031
    }
}
