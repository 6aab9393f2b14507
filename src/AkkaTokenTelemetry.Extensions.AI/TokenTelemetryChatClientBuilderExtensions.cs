using Akka.Actor;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace AkkaTokenTelemetry.Extensions.AI;

/// <summary><c>UseTokenTelemetry()</c> for Microsoft.Extensions.AI chat pipelines (<see cref="ChatClientBuilder"/>).</summary>
/// <remarks>
/// Without a hook, the hook is resolved when the pipeline is built, from the service provider passed to
/// <c>Build</c>: a registered <see cref="TokenUsageHook"/>, else the default hook of a registered
/// <see cref="ActorSystem"/>'s <see cref="TokenTelemetry"/>; with neither, <c>Build</c> throws
/// <see cref="InvalidOperationException"/>.
/// </remarks>
public static class TokenTelemetryChatClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="TokenTelemetryChatClient"/>: one event per call of the client it wraps. Add it before
    /// <c>UseFunctionInvocation()</c> for one event per user call (usage summed over tool round trips), after it for one
    /// event per model call.
    /// </summary>
    /// <param name="builder">The chat pipeline.</param>
    /// <param name="hook">Records each call; null resolves it from the service provider.</param>
    /// <param name="agentName">The <c>Agent</c> dimension's value; null takes the running Agent Framework agent's name.</param>
    /// <returns>The same builder.</returns>
    public static ChatClientBuilder UseTokenTelemetry(this ChatClientBuilder builder, TokenUsageHook? hook = null, string? agentName = null) =>
        UseTokenTelemetry(builder, options =>
        {
            options.Hook = hook;
            options.AgentName = agentName;
        });

    /// <summary>Adds a <see cref="TokenTelemetryChatClient"/> configured by <paramref name="configure"/>.</summary>
    /// <param name="builder">The chat pipeline.</param>
    /// <param name="configure">Sets the hook, agent name and extra counts.</param>
    /// <returns>The same builder.</returns>
    public static ChatClientBuilder UseTokenTelemetry(this ChatClientBuilder builder, Action<TokenTelemetryChatClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new TokenTelemetryChatClientOptions();
        configure(options);
        return builder.Use((inner, services) => new TokenTelemetryChatClient(inner, options.Hook ?? HookResolver.Resolve(services), options));
    }
}
