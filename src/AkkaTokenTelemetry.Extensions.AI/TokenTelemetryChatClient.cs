using System.Diagnostics;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary>
/// A chat client that records the token usage of every call of the client it wraps: one
/// <see cref="AfterInvocationEvent"/> per <see cref="GetResponseAsync"/>, and one per
/// <see cref="GetStreamingResponseAsync"/> enumeration (its <see cref="UsageContent"/>s summed, recorded when the
/// enumeration ends — also when the caller stops early, or the call fails after usage was reported). What the caller
/// receives is never changed, and telemetry never throws into the call.
/// </summary>
/// <remarks>
/// Outside <c>UseFunctionInvocation</c> (added before it on the builder) it records one event per user call, summed
/// over the tool round trips; inside (added after it) one event per model call. A call that reported no usage emits
/// nothing. The model is the response's <c>ModelId</c>, else <see cref="ChatClientMetadata.DefaultModelId"/>; the
/// provider is <see cref="ChatClientMetadata.ProviderName"/>.
/// </remarks>
public sealed class TokenTelemetryChatClient : DelegatingChatClient
{
    private readonly TokenUsageHook _hook;
    private readonly string? _agentName;
    private readonly string[] _additionalCounts;
    private ChatClientMetadata? _metadata;

    /// <summary>Wraps <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client whose calls are recorded.</param>
    /// <param name="hook">Records each call.</param>
    /// <param name="options">The agent name and extra counts; <see cref="TokenTelemetryChatClientOptions.Hook"/> is ignored here.</param>
    public TokenTelemetryChatClient(IChatClient innerClient, TokenUsageHook hook, TokenTelemetryChatClientOptions? options = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(hook);
        _hook = hook;
        _agentName = options?.AgentName;
        _additionalCounts = options?.AdditionalCounts.ToArray() ?? [];
    }

    /// <inheritdoc/>
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var agent = CurrentAgent();
        var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        InvocationReporter.Report(_hook, _additionalCounts, agent, response.Usage, response.ModelId, response.FinishReason?.Value, response, null, start);
        return response;
    }

    /// <inheritdoc/>
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        CancellationToken cancellationToken = default)
        => InvocationReporter.ReportStreamAsync(
            _hook,
            _additionalCounts,
            base.GetStreamingResponseAsync(messages, options, cancellationToken),
            CurrentAgent,
            static (streamed, update) => streamed.Observe(update.Contents, update.ModelId, update.FinishReason),
            cancellationToken);

    /// <summary>Who is calling: the configured name, else the Agent Framework agent running this call.</summary>
    private AgentInfo CurrentAgent()
    {
        try
        {
            _metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();
            var running = AIAgent.CurrentRunContext?.Agent;
            return new AgentInfo
            {
                Name = _agentName ?? running?.Name,
                Id = running?.Id,
                ProviderName = _metadata.ProviderName,
                DefaultModelId = _metadata.DefaultModelId,
            };
        }
#pragma warning disable CA1031 // telemetry never fails the caller's call
        catch (Exception)
        {
            return new AgentInfo { Name = _agentName };
        }
#pragma warning restore CA1031
    }
}
