using Akka.Configuration;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Configuration;

/// <summary>
/// Every configuration in <c>hocon/</c> is read and checked as the pipeline reads it at start-up (over the embedded
/// reference.conf), so the examples the README points to never rot. Reading one opens no connection.
/// </summary>
public class HoconExamplesTests
{
    private static readonly string HoconFolder = Path.Combine(SampleBuild.RepositoryRoot, "hocon");

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(HoconFolder, "*.conf").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    private static Config Load(string name) => ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(HoconFolder, name)));

    [Fact]
    public void HoconFolder_HoldsTheExamplesTheReadmeLists()
    {
        var files = Directory.GetFiles(HoconFolder, "*.conf").Select(Path.GetFileName);
        Assert.Superset(
            new HashSet<string?> { "reference.conf", "multi-agent-server.conf", "stdout.conf", "cloudwatch-agent-tcp.conf", "lambda-stdout.conf", "high-throughput-merge.conf", "testkit.conf" },
            files.ToHashSet());
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_IsValidOverTheReferenceConfig_AndItsShutdownPhaseOutlastsTheDrain(string name)
    {
        var config = Load(name);

        var settings = TokenTelemetrySettings.Create(config);

        Assert.NotEmpty(settings.Emitters);
        var phase = config.WithFallback(TokenTelemetry.DefaultConfig).GetTimeSpan("akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout");
        Assert.True(phase > settings.ShutdownTimeout, $"{name}: the shutdown phase ({phase}) must outlast shutdown-timeout ({settings.ShutdownTimeout})");
    }

    [Fact]
    public void CloudWatchAgentExample_SendsToTheAgentOverTcp_WithALogGroup()
    {
        var agent = Assert.Single(TokenTelemetrySettings.Create(Load("cloudwatch-agent-tcp.conf")).Emitters);

        Assert.Equal(("agent", "cloudwatch-agent"), (agent.Name, agent.Type));
        Assert.False(agent.Agent!.IsUdp);
        Assert.Equal("/agents/token-usage", agent.Agent.LogGroupName);

        // The endpoint is left to AWS_EMF_AGENT_ENDPOINT (ECS bridge mode), else the agent's default port.
        var c = Load("cloudwatch-agent-tcp.conf").WithFallback(TokenTelemetry.DefaultConfig).GetConfig("akka.token-telemetry");
        var block = c.GetConfig("emitter.agent").WithFallback(c.GetConfig("emitter-type-defaults.cloudwatch-agent")).WithFallback(c.GetConfig("emitter.defaults"));
        var unset = EmitterSettings.Create("agent", block, "akka.token-telemetry.emitter.agent", _ => null).Agent!;
        Assert.Equal(("127.0.0.1", 25888, false), (unset.Host, unset.Port, unset.IsUdp));
        var bridge = EmitterSettings.Create("agent", block, "akka.token-telemetry.emitter.agent", v => v == "AWS_EMF_AGENT_ENDPOINT" ? "tcp://cwagent:25888" : null).Agent!;
        Assert.Equal(("cwagent", 25888), (bridge.Host, bridge.Port));
    }

    [Fact]
    public void MergeExample_MergesAndSendsToTheAgent()
    {
        var settings = TokenTelemetrySettings.Create(Load("high-throughput-merge.conf"));

        Assert.True(settings.MergeEnabled);
        Assert.Equal("cloudwatch-agent", Assert.Single(settings.Emitters).Type);
    }

    [Theory]
    [InlineData("stdout.conf")]
    [InlineData("lambda-stdout.conf")]
    [InlineData("multi-agent-server.conf")]
    public void StdoutExamples_WriteOnlyEmfToStdout(string name)
    {
        var config = Load(name).WithFallback(TokenTelemetry.DefaultConfig);

        Assert.Equal("stdout", Assert.Single(TokenTelemetrySettings.Create(config).Emitters).Type);
        Assert.Equal("OFF", config.GetString("akka.stdout-loglevel"));
    }

    [Fact]
    public void SampleExample_DeclaresEnvironmentForItsStaticValue()
    {
        var settings = TokenTelemetrySettings.Create(Load("multi-agent-server.conf"));

        Assert.Equal("dev", settings.DimensionValues["Environment"]);
        Assert.All(settings.Dimensions, set => Assert.Contains("Environment", set));
    }
}
