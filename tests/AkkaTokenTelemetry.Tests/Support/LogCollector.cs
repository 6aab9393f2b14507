using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>
/// Collects the warnings and errors an actor system logs, for tests that assert what was logged. The subscriber
/// takes each message synchronously as it is published, so nothing logged during a shutdown is missed.
/// </summary>
public static class LogCollector
{
    /// <summary>Subscribes a collector to <paramref name="system"/>'s warnings and errors.</summary>
    public static ConcurrentQueue<string> Attach(ActorSystem system)
    {
        var messages = new ConcurrentQueue<string>();
        var subscriber = new Subscriber(((ExtendedActorSystem)system).Provider, messages);
        system.EventStream.Subscribe(subscriber, typeof(Warning));
        system.EventStream.Subscribe(subscriber, typeof(Error));
        return messages;
    }

    private sealed class Subscriber(IActorRefProvider provider, ConcurrentQueue<string> messages) : MinimalActorRef
    {
        public override ActorPath Path { get; } = new RootActorPath(provider.DefaultAddress) / "temp" / $"log-collector-{Guid.NewGuid():N}";

        public override IActorRefProvider Provider { get; } = provider;

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (message is LogEvent e)
            {
                messages.Enqueue($"{e.LogLevel()}: {e.Message}");
            }
        }
    }
}
