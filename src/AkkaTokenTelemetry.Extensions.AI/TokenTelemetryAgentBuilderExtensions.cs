using Akka.Actor;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary><c>UseTokenTelemetry()</c> for Microsoft Agent Framework agents (<see cref="AIAgentBuilder"/>).</summary>
/// <remarks>
/// Without a hook, the hook is resolved when the pipeline is built, from the service provider passed to
/// <c>Build</c>: a registered <see cref="TokenUsageHook"/>, else the default hook of a registered
/// <see cref="ActorSystem"/>'s <see cref="TokenTelemetry"/>; with neither, <c>Build</c> throws
/// <see cref="InvalidOperationException"/>.
/// </remarks>
public static class TokenTelemetryAgentBuilderExtensions
{
    /// <summary>Adds a <see cref="TokenTelemetryAgent"/>: one event per run (and per streaming run) of the agent it wraps.</summary>
    /// <param name="builder">The agent pipeline.</param>
    /// <param name="hook">Records each run; null resolves it from the service provider.</param>
    /// <returns>The same builder.</returns>
#pragma warning disable RS0027 // the DESIGN.md contract names this signature; the Action overload has as many parameters
    public static AIAgentBuilder UseTokenTelemetry(this AIAgentBuilder builder, TokenUsageHook? hook = null) =>
        UseTokenTelemetry(builder, options => options.Hook = hook);
#pragma warning restore RS0027

    /// <summary>Adds a <see cref="TokenTelemetryAgent"/> configured by <paramref name="configure"/>.</summary>
    /// <param name="builder">The agent pipeline.</param>
    /// <param name="configure">Sets the hook and extra counts.</param>
    /// <returns>The same builder.</returns>
    public static AIAgentBuilder UseTokenTelemetry(this AIAgentBuilder builder, Action<TokenTelemetryAgentOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new TokenTelemetryAgentOptions();
        configure(options);
        return builder.Use((inner, services) => new TokenTelemetryAgent(inner, options.Hook ?? HookResolver.Resolve(services), options));
    }
}
