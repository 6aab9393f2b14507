using Akka.Actor;

namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary>Finds the hook of a pipeline built without one.</summary>
internal static class HookResolver
{
    public static TokenUsageHook Resolve(IServiceProvider? services)
    {
        if (services?.GetService(typeof(TokenUsageHook)) is TokenUsageHook hook)
        {
            return hook;
        }

        if (services?.GetService(typeof(ActorSystem)) is ActorSystem system)
        {
            return TokenTelemetry.Get(system).CreateHook();
        }

        throw new InvalidOperationException(
            "UseTokenTelemetry() without a hook needs a TokenUsageHook (or an ActorSystem) in the service provider passed to Build(): " +
            "register one (AkkaTokenTelemetry.Hosting: AddAkka(…, akka => akka.WithTokenTelemetry()) and services.AddTokenTelemetry()), or pass a hook.");
    }
}
