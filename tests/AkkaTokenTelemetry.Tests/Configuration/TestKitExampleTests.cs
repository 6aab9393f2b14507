using Akka.Configuration;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Configuration;

/// <summary><c>hocon/testkit.conf</c> used as its comment says: a TestKit over it, a hook whose events go to the test actor.</summary>
public class TestKitExampleTests() : Akka.TestKit.Xunit2.TestKit(
    ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(SampleBuild.RepositoryRoot, "hocon", "testkit.conf")))
        .WithFallback(TokenTelemetry.DefaultConfig))
{
    [Fact]
    public void HookWithAnActorEmitter_DeliversEachEventToTheTestActor()
    {
        var hook = TokenTelemetry.Get(Sys).CreateHook(new TokenUsageHookOptions { Emitter = EmfEmitters.ToActor(TestActor) });

        hook.OnAfterInvocation(new AfterInvocationEvent
        {
            Agent = new AgentInfo { Name = "research-agent" },
            Result = new AgentResult { Usage = new Dictionary<string, long> { ["inputTokens"] = 1523, ["outputTokens"] = 842 }, Model = "gpt-4o" },
        });

        var emitted = ExpectMsg<EmfPayloadEmitted>(TimeSpan.FromSeconds(5));
        var e = EmfAssert.ValidLine(emitted.Json);
        Assert.Equal(1523, e["inputTokens"]!.GetValue<long>());
        Assert.Equal("Test/AgentTokenUsage", e["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
        Assert.Equal("research-agent", e["Agent"]!.GetValue<string>());
    }
}
