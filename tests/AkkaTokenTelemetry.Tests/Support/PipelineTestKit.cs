using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>A TestKit whose real ActorSystem runs the token telemetry pipeline with the given HOCON and code-registered emitters.</summary>
public abstract class PipelineTestKit : Akka.TestKit.Xunit2.TestKit
{
    protected PipelineTestKit(string hocon, TokenTelemetrySetup? setup, ITestOutputHelper output)
        : base(Setup(hocon, setup), null, output)
    {
    }

    protected TokenTelemetry Telemetry => TokenTelemetry.Get(Sys);

    /// <summary>Fast defaults for tests: short delays and backoffs, nothing on stdout.</summary>
    public const string TestDefaults = """
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        akka.loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"]
        akka.token-telemetry {
          emitters = []
          batch.max-delay = 50ms
          emitter.defaults {
            ask-timeout = 2s
            backoff { min = 10ms, max = 50ms, random-factor = 0.2 }
          }
          shutdown-timeout = 8s
        }
        """;

    private static ActorSystemSetup Setup(string hocon, TokenTelemetrySetup? setup)
    {
        var config = ConfigurationFactory.ParseString(hocon)
            .WithFallback(ConfigurationFactory.ParseString(TestDefaults))
            .WithFallback(TokenTelemetry.DefaultConfig);
        var bootstrap = BootstrapSetup.Create().WithConfig(config);
        return setup is null ? ActorSystemSetup.Create(bootstrap) : ActorSystemSetup.Create(bootstrap, setup);
    }

    protected static AfterInvocationEvent Invocation(
        IReadOnlyDictionary<string, long>? usage = null,
        string? model = "gpt-4o",
        string? agent = "research-agent",
        string? provider = "openai") =>
        new()
        {
            Agent = new AgentInfo { Name = agent, ProviderName = provider, DefaultModelId = "default-model" },
            Result = new AgentResult { Usage = usage ?? new Dictionary<string, long> { ["inputTokens"] = 100, ["outputTokens"] = 20, ["totalTokens"] = 120 }, Model = model },
        };
}
