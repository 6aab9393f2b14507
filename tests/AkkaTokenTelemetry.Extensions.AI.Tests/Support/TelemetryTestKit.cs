using Akka.Configuration;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Extensions.AI.Tests.Support;

/// <summary>A TestKit whose real ActorSystem runs the token telemetry pipeline: no emitters, nothing on stdout.</summary>
public abstract class TelemetryTestKit(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(Config, null, output)
{
    public const string Hocon = """
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        akka.loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"]
        akka.token-telemetry {
          emitters = []
          batch.max-delay = 50ms
        }
        """;

    private static Config Config => ConfigurationFactory.ParseString(Hocon).WithFallback(TokenTelemetry.DefaultConfig);

    protected TokenTelemetry Telemetry => TokenTelemetry.Get(Sys);

    /// <summary>A hook of the real pipeline whose events the TestActor receives as <see cref="EmfPayloadEmitted"/>.</summary>
    protected TokenUsageHook HookToTestActor() => Telemetry.CreateHook(new TokenUsageHookOptions
    {
        Dimensions = [["Model", "Agent"], ["Provider"]],
        Emitter = EmfEmitters.ToActor(TestActor),
    });

    /// <summary>Flushes the pipeline, then takes the next event and checks it against the EMF rules.</summary>
    protected async Task<System.Text.Json.Nodes.JsonObject> NextEventAsync()
    {
        await Telemetry.FlushAsync();
        var emitted = ExpectMsg<EmfPayloadEmitted>();
        return EmfAssert.ValidLine(emitted.Json);
    }
}
