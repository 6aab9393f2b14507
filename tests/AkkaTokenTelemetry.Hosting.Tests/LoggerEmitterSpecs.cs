using Akka.Configuration;
using Akka.Hosting;
using AkkaTokenTelemetry.Hosting.Tests.Support;
using AkkaTokenTelemetry.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry.Hosting.Tests;

/// <summary>Under Akka.Hosting, a <c>type = logger</c> emitter logs through the host's own logger factory.</summary>
public sealed class LoggerEmitterSpecs(ITestOutputHelper output)
    : Akka.Hosting.TestKit.TestKit("hosting-logger", output, logLevel: LogLevel.Warning)
{
    private readonly CollectingLoggerProvider _provider = new();

    protected override Config Config => ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        akka.token-telemetry {
          batch.max-delay = 50ms
          emitters = [app-log]
          emitter.app-log { type = logger, category = "Agents.TokenUsage" }
        }
        """);

    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services)
    {
        services.AddLogging(logging => logging.AddProvider(_provider));
        services.AddTokenTelemetry();
    }

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) => builder.WithTokenTelemetry();

    [Fact]
    public async Task Each_event_is_one_log_message_in_the_configured_category()
    {
        var hook = Host.Services.GetRequiredService<TokenUsageHook>();
        hook.OnAfterInvocation(new AfterInvocationEvent
        {
            Agent = new AgentInfo { Name = "planner" },
            Result = new AgentResult { Usage = new Dictionary<string, long> { ["inputTokens"] = 40, ["outputTokens"] = 2 }, Model = "gpt-4o-mini" },
        });
        await Host.Services.GetRequiredService<TokenTelemetry>().FlushAsync();

        var (level, message) = Assert.Single(_provider.Entries, e => e.Category == "Agents.TokenUsage").Entry;
        Assert.Equal(LogLevel.Information, level);
        var root = EmfAssert.ValidLine(message);
        Assert.Equal(40, root["inputTokens"]!.GetValue<long>());
        Assert.Equal("gpt-4o-mini", root["Model"]!.GetValue<string>());
    }
}
