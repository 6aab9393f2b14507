using Akka.Actor.Setup;

namespace AkkaTokenTelemetry.Hosting;

/// <summary>Carries the default hook's options from <c>WithTokenTelemetry</c> to the service provider, through the actor system.</summary>
internal sealed class TokenTelemetryHostingSetup(TokenUsageHookOptions? hook) : Setup
{
    public TokenUsageHookOptions? Hook { get; } = hook;
}
