using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Pipeline;

public class PipelineSmokeTests(ITestOutputHelper output)
    : PipelineTestKit("akka.token-telemetry { emitters = [collect], emitter.collect.type = delegate }", new TokenTelemetrySetup().WithEmitter("collect", Collector), output)
{
    private static readonly CollectingEmitter Collector = new();

    [Fact]
    public async Task Hook_ToConfiguredEmitter_DeliversAfterFlush()
    {
        var hook = Telemetry.CreateHook();
        hook.OnAfterInvocation(Invocation());
        await Telemetry.FlushAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        var e = Assert.Single(Collector.Events);
        Assert.Equal(100, e["inputTokens"]!.GetValue<long>());
        Assert.Equal("gpt-4o", e["Model"]!.GetValue<string>());
    }
}
