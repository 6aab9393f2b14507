using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>A real ActorSystem running the pipeline with test HOCON and emitters, terminated when disposed.</summary>
public sealed class TelemetrySystem : IAsyncDisposable
{
    private static int s_counter;

    private TelemetrySystem(ActorSystem system)
    {
        System = system;
        Telemetry = TokenTelemetry.Get(system);
    }

    public ActorSystem System { get; }

    public TokenTelemetry Telemetry { get; }

    public static TelemetrySystem Start(string hocon, TokenTelemetrySetup? setup = null)
    {
        var config = ConfigurationFactory.ParseString(hocon)
            .WithFallback(ConfigurationFactory.ParseString(PipelineTestKit.TestDefaults))
            .WithFallback(TokenTelemetry.DefaultConfig);
        var bootstrap = BootstrapSetup.Create().WithConfig(config);
        var actorSystemSetup = setup is null ? ActorSystemSetup.Create(bootstrap) : ActorSystemSetup.Create(bootstrap, setup);
        return new TelemetrySystem(ActorSystem.Create($"telemetry-{Interlocked.Increment(ref s_counter)}", actorSystemSetup));
    }

    public async Task FlushAsync(TimeSpan? within = null) =>
        await Telemetry.FlushAsync(new CancellationTokenSource(within ?? TimeSpan.FromSeconds(20)).Token);

    public async ValueTask DisposeAsync()
    {
        await System.Terminate().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public static AfterInvocationEvent Invocation(long seq) => new()
    {
        Agent = new AgentInfo { Name = "agent", DefaultModelId = "model" },
        Result = new AgentResult { Usage = new Dictionary<string, long> { ["seq"] = seq, ["inputTokens"] = 7 } },
    };
}
