using System.Runtime.CompilerServices;
using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;

namespace AkkaTokenTelemetry;

/// <summary>
/// The token telemetry pipeline of one actor system, as an Akka.NET extension. <see cref="Get"/> starts it from
/// the HOCON section <c>akka.token-telemetry</c> (with the embedded <c>reference.conf</c> as fallback); a bad value
/// fails right there, naming its HOCON path.
/// </summary>
/// <example>
/// <code>
/// var telemetry = TokenTelemetry.Get(system);
/// var hook = telemetry.CreateHook(new TokenUsageHookOptions { Dimensions = [["Model"], ["Model", "Agent"]] });
/// hook.OnAfterInvocation(new AfterInvocationEvent { Agent = agent, Result = result });   // never blocks
/// await telemetry.FlushAsync();                                                          // optional
/// </code>
/// </example>
public sealed class TokenTelemetry : IExtension
{
    private static readonly ConditionalWeakTable<IActorRef, TelemetryPipeline> Pipelines = [];
    private readonly TelemetryPipeline _pipeline;
    private readonly TokenUsageHookOptions? _defaultHookOptions;

    internal TokenTelemetry(ExtendedActorSystem system)
    {
        var settings = TokenTelemetrySettings.Create(system.Settings.Config);
        var setup = system.Settings.Setup.Get<TokenTelemetrySetup>();
        _pipeline = new TelemetryPipeline(system, settings, setup.HasValue ? setup.Value : null, TimeProvider.System);
        _defaultHookOptions = setup.HasValue ? setup.Value.DefaultHookOptions : null;
        _pipeline.Start();
        Pipelines.AddOrUpdate(_pipeline.Router, _pipeline);

        var shutdown = CoordinatedShutdown.Get(system);
        var phaseTimeout = shutdown.Timeout(CoordinatedShutdown.PhaseBeforeActorSystemTerminate);
        var budget = settings.ShutdownTimeout;
        if (phaseTimeout <= budget)
        {
            budget = phaseTimeout - TimeSpan.FromMilliseconds(Math.Min(500, phaseTimeout.TotalMilliseconds / 10));
            _pipeline.Log.Warning(
                "akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout ({0}) is not above akka.token-telemetry.shutdown-timeout ({1}); the drain gets {2}. Use TokenTelemetry.DefaultConfig as a fallback of the actor system's config, or raise the phase timeout.",
                phaseTimeout,
                settings.ShutdownTimeout,
                budget);
        }

        shutdown.AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "token-telemetry-drain", async () =>
        {
            await _pipeline.DrainAsync(budget).ConfigureAwait(false);
            return Done.Instance;
        });
    }

    /// <summary>
    /// The embedded <c>reference.conf</c>: every default. Use it as the fallback of your actor system's config
    /// (<c>config.WithFallback(TokenTelemetry.DefaultConfig)</c>) so its CoordinatedShutdown phase timeout applies too.
    /// </summary>
    public static Config DefaultConfig => TokenTelemetrySettings.DefaultConfig;

    /// <summary>The router that every hook of this pipeline tells its records to.</summary>
    public IActorRef Router => _pipeline.Router;

    /// <summary>A snapshot of the pipeline's counters: received, accepted, written, dropped by reason, per emitter.</summary>
    public TokenTelemetryStats Stats => _pipeline.Counters.Snapshot();

    /// <summary>Returns the pipeline of <paramref name="system"/>, starting it on first use.</summary>
    /// <param name="system">The actor system.</param>
    /// <exception cref="ConfigurationException">A HOCON value under <c>akka.token-telemetry</c> is invalid; the message names its path.</exception>
    /// <exception cref="EmfValidationException">A HOCON value breaks an EMF rule; the field is its HOCON path.</exception>
    public static TokenTelemetry Get(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.WithExtension<TokenTelemetry, TokenTelemetryProvider>();
    }

    /// <summary>
    /// Creates a hook that sends to this pipeline. The options are merged with HOCON and fully checked here.
    /// </summary>
    /// <param name="options">
    /// How the hook builds its events; null properties take HOCON values. Null options take the actor system's
    /// <see cref="TokenTelemetrySetup.DefaultHookOptions"/> (none by default: every setting from HOCON).
    /// </param>
    /// <exception cref="EmfValidationException">The options break an EMF rule; the message names the field, value and rule.</exception>
    public TokenUsageHook CreateHook(TokenUsageHookOptions? options = null) =>
        new(_pipeline.Router, options ?? _defaultHookOptions, _pipeline);

    /// <summary>
    /// Delivers everything accepted before this call — to every emitter, or dropped and counted — without stopping
    /// the pipeline. Bounded by <paramref name="cancellationToken"/> (a stalled emitter gives up on a batch only
    /// after its retries).
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the records keep flowing).</param>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _pipeline.FlushAsync(cancellationToken);

    /// <summary>The pipeline behind a router, when that router belongs to one.</summary>
    internal static TelemetryPipeline? FindPipeline(IActorRef router) =>
        Pipelines.TryGetValue(router, out var pipeline) ? pipeline : null;

    internal TelemetryPipeline Pipeline => _pipeline;
}

/// <summary>Creates the <see cref="TokenTelemetry"/> extension; also usable in HOCON <c>akka.extensions</c>.</summary>
public sealed class TokenTelemetryProvider : ExtensionIdProvider<TokenTelemetry>
{
    /// <inheritdoc/>
    public override TokenTelemetry CreateExtension(ExtendedActorSystem system) => new(system);
}
