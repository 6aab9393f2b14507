using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace AkkaTokenTelemetry.Extensions.AI.Tests.Support;

/// <summary>A scripted chat client: a fixed response, or fixed updates then (optionally) a failure or a hang.</summary>
public sealed class FakeChatClient : IChatClient
{
    public ChatClientMetadata Metadata { get; init; } = new("fake-provider", null, "fake-default-model");

    public ChatResponse? Response { get; init; }

    public Exception? ResponseFailure { get; init; }

    public IReadOnlyList<ChatResponseUpdate> Updates { get; init; } = [];

    /// <summary>Thrown after every update was yielded.</summary>
    public Exception? StreamFailure { get; init; }

    /// <summary>After every update was yielded, wait until the call is cancelled.</summary>
    public bool HangAfterUpdates { get; init; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        ResponseFailure is not null ? Task.FromException<ChatResponse>(ResponseFailure) : Task.FromResult(Response!);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var update in Updates)
        {
            await Task.Yield();
            yield return update;
        }

        if (HangAfterUpdates)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (StreamFailure is not null)
        {
            throw StreamFailure;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? Metadata : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    public static ChatResponseUpdate Text(string text, string? modelId = "fake-model-2025-01-01") =>
        new(ChatRole.Assistant, text) { ModelId = modelId };

    public static ChatResponseUpdate Usage(UsageDetails details, string? modelId = "fake-model-2025-01-01") =>
        new() { Role = ChatRole.Assistant, Contents = [new UsageContent(details)], ModelId = modelId };
}
