using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Hosting.Tests.Support;

/// <summary>Keeps every event it receives, each checked against the EMF rules.</summary>
public sealed class CollectingEmitter : IEmfEmitter
{
    private readonly ConcurrentQueue<JsonObject> _events = new();

    public IReadOnlyCollection<JsonObject> Events => _events;

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            _events.Enqueue(EmfAssert.ValidLine(batch.GetEvent(i).Span));
        }

        return ValueTask.CompletedTask;
    }
}
