using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Akka.Actor.Setup;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry;

/// <summary>
/// What the pipeline takes from code rather than HOCON: emitters for HOCON emitter blocks with <c>type = delegate</c>
/// (the block's name is the name registered here), the logger factory of <c>type = logger</c> blocks, and the options
/// of hooks created without options of their own. Pass it to the actor system with
/// <c>ActorSystemSetup.Create(BootstrapSetup…, setup)</c>. Immutable: each <c>With…</c> returns a new setup.
/// </summary>
/// <example>
/// <code>
/// var setup = new TokenTelemetrySetup().WithEmitter("audit", myEmitter);
/// // HOCON: akka.token-telemetry { emitters = [stdout, audit], emitter.audit { type = delegate } }
/// </code>
/// </example>
public sealed class TokenTelemetrySetup : Setup
{
    /// <summary>A setup with no emitters.</summary>
    public TokenTelemetrySetup()
        : this(ImmutableDictionary<string, IEmfEmitter>.Empty.WithComparers(StringComparer.Ordinal))
    {
    }

    private TokenTelemetrySetup(
        ImmutableDictionary<string, IEmfEmitter> emitters,
        ILoggerFactory? loggerFactory = null,
        TokenUsageHookOptions? defaultHookOptions = null)
    {
        Emitters = emitters;
        LoggerFactory = loggerFactory;
        DefaultHookOptions = defaultHookOptions;
    }

    internal ImmutableDictionary<string, IEmfEmitter> Emitters { get; }

    /// <summary>The logger factory of <c>type = logger</c> emitters, if one was given.</summary>
    public ILoggerFactory? LoggerFactory { get; }

    /// <summary>
    /// The options of every hook created without options of its own (<see cref="TokenTelemetry.CreateHook"/> with
    /// null, the hook <c>UseTokenTelemetry()</c> creates when none is registered, and the service provider's hook under
    /// Akka.Hosting). The default value is null: such hooks take every setting from HOCON.
    /// </summary>
    public TokenUsageHookOptions? DefaultHookOptions { get; }

    /// <summary>Sets <see cref="DefaultHookOptions"/>: the options of hooks created without options of their own.</summary>
    /// <param name="options">The options; checked against HOCON when the first such hook is created.</param>
    /// <returns>A new setup with the options.</returns>
    public TokenTelemetrySetup WithDefaultHookOptions(TokenUsageHookOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new TokenTelemetrySetup(Emitters, LoggerFactory, options);
    }

    /// <summary>
    /// Gives <c>type = logger</c> emitter blocks the Microsoft.Extensions.Logging factory they log through.
    /// (Akka.Hosting users get the host's factory without this call.)
    /// </summary>
    /// <param name="loggerFactory">The factory; the pipeline does not dispose it.</param>
    /// <returns>A new setup with the factory.</returns>
    public TokenTelemetrySetup WithLoggerFactory(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        return new TokenTelemetrySetup(Emitters, loggerFactory, DefaultHookOptions);
    }

    /// <summary>Registers an emitter under <paramref name="name"/> (replacing one of the same name).</summary>
    /// <param name="name">The name of the HOCON block <c>emitter.&lt;name&gt; { type = delegate }</c>.</param>
    /// <param name="emitter">The emitter; the pipeline does not dispose it.</param>
    /// <returns>A new setup with the emitter added.</returns>
    public TokenTelemetrySetup WithEmitter(string name, IEmfEmitter emitter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(emitter);
        return new TokenTelemetrySetup(Emitters.SetItem(name, emitter), LoggerFactory, DefaultHookOptions);
    }

    /// <summary>Registers a per-payload delegate under <paramref name="name"/>: it receives each event parsed, as <see cref="TokenUsageHookOptions.Emitter"/> does.</summary>
    /// <param name="name">The name of the HOCON block <c>emitter.&lt;name&gt; { type = delegate }</c>.</param>
    /// <param name="emitter">Called once per event; when it throws, the batch is retried.</param>
    /// <returns>A new setup with the emitter added.</returns>
    public TokenTelemetrySetup WithEmitter(string name, Action<JsonObject> emitter)
    {
        ArgumentNullException.ThrowIfNull(emitter);
        return WithEmitter(name, new PayloadDelegateEmitter(emitter));
    }

    /// <summary>Adapts a per-payload delegate to <see cref="IEmfEmitter"/>.</summary>
    private sealed class PayloadDelegateEmitter(Action<JsonObject> emit) : IEmfEmitter
    {
        public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                emit(batch.GetPayload(i));
            }

            return ValueTask.CompletedTask;
        }
    }
}
