using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AkkaTokenTelemetry.Hosting;

/// <summary>
/// Starts the token telemetry pipeline with an Akka.Hosting actor system, and makes <see cref="TokenTelemetry"/> and
/// a default <see cref="TokenUsageHook"/> resolvable from the service provider.
/// </summary>
/// <remarks>
/// Call <c>WithTokenTelemetry</c> after your own <c>AddHocon</c>: it renders its options over the HOCON added so far
/// and appends <c>reference.conf</c> behind it, so HOCON appended later falls behind the defaults, and HOCON
/// prepended later overrides the emitters list (dropping emitters added in code). <c>AddTokenTelemetry</c> is a
/// separate call on the service collection: Akka.Hosting runs the <c>AddAkka</c> builder only when the actor system is
/// first resolved, after the service provider is built, so a builder extension cannot register services.
/// </remarks>
/// <example>
/// <code>
/// services.AddAkka("agents", akka => akka.WithTokenTelemetry(o => o.Dimensions = [["Model"], ["Model", "Agent"]]));
/// services.AddTokenTelemetry();   // TokenTelemetry and TokenUsageHook from the service provider
/// </code>
/// </example>
public static class TokenTelemetryHostingExtensions
{
    /// <summary>Starts the pipeline with the actor system, configured by HOCON alone (<c>akka.token-telemetry</c>, else <c>reference.conf</c>).</summary>
    /// <param name="builder">The actor system's builder.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithTokenTelemetry(this AkkaConfigurationBuilder builder) =>
        WithTokenTelemetry(builder, new TokenTelemetryOptions());

    /// <summary>Starts the pipeline with the actor system; <paramref name="configure"/> sets what overrides HOCON.</summary>
    /// <param name="builder">The actor system's builder.</param>
    /// <param name="configure">Sets the options; null keeps HOCON as it is.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithTokenTelemetry(this AkkaConfigurationBuilder builder, Action<TokenTelemetryOptions>? configure)
    {
        var options = new TokenTelemetryOptions();
        configure?.Invoke(options);
        return WithTokenTelemetry(builder, options);
    }

    /// <summary>
    /// Starts the pipeline with the actor system. The options that are set are rendered as HOCON and prepended
    /// (they override the HOCON added so far); <see cref="TokenTelemetry.DefaultConfig"/> is appended as the fallback.
    /// Emitters added with <see cref="TokenTelemetryOptions.AddEmitter(string, IEmfEmitter)"/> are registered in the
    /// actor system's <see cref="TokenTelemetrySetup"/> (merged with one added before this call).
    /// </summary>
    /// <param name="builder">The actor system's builder.</param>
    /// <param name="options">What overrides HOCON.</param>
    /// <returns>The same builder.</returns>
    /// <remarks>The pipeline starts with the actor system; a bad setting fails the start, naming its HOCON path. Its
    /// router is registered in the <see cref="ActorRegistry"/> under <see cref="TokenTelemetry"/>.</remarks>
    public static AkkaConfigurationBuilder WithTokenTelemetry(this AkkaConfigurationBuilder builder, TokenTelemetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);

        var current = (builder.Configuration.HasValue ? builder.Configuration.Value : Config.Empty)
            .WithFallback(TokenTelemetry.DefaultConfig);
        var hocon = options.ToHocon(current);
        if (hocon.Length > 0)
        {
            builder.AddHocon(ConfigurationFactory.ParseString(hocon), HoconAddMode.Prepend);
        }

        builder.AddHocon(TokenTelemetry.DefaultConfig, HoconAddMode.Append);

        if (options.HasCodeEmitters || options.Hook is not null)
        {
            // One TokenTelemetrySetup per actor system: merge into the one added before this call, if any.
            var existing = builder.Setups.OfType<TokenTelemetrySetup>().ToList();
            var setup = existing.Count > 0 ? existing[^1] : new TokenTelemetrySetup();
            foreach (var old in existing)
            {
                builder.Setups.Remove(old);
            }

            setup = options.RegisterEmitters(setup);
            if (options.Hook is not null)
            {
                setup = setup.WithDefaultHookOptions(options.Hook);
            }

            builder.AddSetup(setup);
        }

        builder.WithExtension<TokenTelemetryProvider>();
        builder.WithActors((system, registry) => registry.TryRegister<TokenTelemetry>(TokenTelemetry.Get(system).Router));
        return builder;
    }

    /// <summary>
    /// Makes <see cref="TokenTelemetry"/> and a default <see cref="TokenUsageHook"/> (built from
    /// <see cref="TokenTelemetryOptions.Hook"/>) resolvable as singletons. Call it beside <c>AddAkka(…)</c>, whose
    /// builder calls <c>WithTokenTelemetry</c>. Resolving either never waits for the host to start: it takes the
    /// actor system from the service provider and the pipeline's router from the extension. Calling it twice, or
    /// after registering a <see cref="TokenUsageHook"/> of your own, keeps the registration already there.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddTokenTelemetry(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(sp => TokenTelemetry.Get(sp.GetRequiredService<ActorSystem>()));
        services.TryAddSingleton(sp => sp.GetRequiredService<TokenTelemetry>().CreateHook());
        return services;
    }
}
