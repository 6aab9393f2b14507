using Akka.Actor;
using Akka.Configuration;

namespace AkkaTokenTelemetry.Tests.Configuration;

/// <summary>Each emitter type's settings: defaults, the environment fallbacks, and clear start-up errors.</summary>
public class EmitterConfigurationTests
{
    private static readonly Config Reference = TokenTelemetry.DefaultConfig.GetConfig("akka.token-telemetry");

    /// <summary>One emitter block as the pipeline reads it, with the given environment variables.</summary>
    private static EmitterSettings Block(string type, string block, IReadOnlyDictionary<string, string>? environment = null)
    {
        var config = ConfigurationFactory.ParseString($"type = {type}\n{block}")
            .WithFallback(Reference.GetConfig($"emitter-type-defaults.{type.Trim('"')}") ?? Config.Empty)
            .WithFallback(Reference.GetConfig("emitter.defaults"));
        return EmitterSettings.Create("e", config, "akka.token-telemetry.emitter.e", name => environment?.GetValueOrDefault(name));
    }

    private static TokenTelemetrySettings Parse(string hocon) => TokenTelemetrySettings.Create(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void Agent_Defaults_AreTcpOnTheLocalAgentPort_WithTheDocumentedLogGroup()
    {
        var agent = Block("cloudwatch-agent", string.Empty).Agent!;
        Assert.False(agent.IsUdp);
        Assert.Equal(("127.0.0.1", 25888), (agent.Host, agent.Port));
        Assert.Equal("AkkaTokenTelemetry-metrics", agent.LogGroupName);
        Assert.Null(agent.LogStreamName);
        Assert.Equal(TimeSpan.FromSeconds(2), agent.ResendWindow);
        Assert.Equal(8 * 1024 * 1024, agent.ResendBuffer);
    }

    [Fact]
    public void Agent_TheReferenceBlockNamedAgent_IsReadyToUse()
    {
        var settings = Parse("akka.token-telemetry.emitters = [agent]");
        var agent = Assert.Single(settings.Emitters);
        Assert.Equal("cloudwatch-agent", agent.Type);
        Assert.NotNull(agent.Agent);
    }

    [Fact]
    public void Agent_EmptyHoconValues_FallBackToTheEnvironment()
    {
        var agent = Block("cloudwatch-agent", string.Empty, new Dictionary<string, string>
        {
            ["AWS_EMF_AGENT_ENDPOINT"] = "udp://10.0.0.7:25999",
            ["AWS_EMF_LOG_GROUP_NAME"] = "/ecs/agents",
            ["AWS_EMF_LOG_STREAM_NAME"] = "task-1",
        }).Agent!;
        Assert.True(agent.IsUdp);
        Assert.Equal(("10.0.0.7", 25999), (agent.Host, agent.Port));
        Assert.Equal("/ecs/agents", agent.LogGroupName);
        Assert.Equal("task-1", agent.LogStreamName);
    }

    [Fact]
    public void Agent_HoconWinsOverTheEnvironment()
    {
        var agent = Block("cloudwatch-agent", "endpoint = \"tcp://agent.local:4000\", log-group-name = mine", new Dictionary<string, string>
        {
            ["AWS_EMF_AGENT_ENDPOINT"] = "udp://10.0.0.7:25999",
            ["AWS_EMF_LOG_GROUP_NAME"] = "/ecs/agents",
        }).Agent!;
        Assert.Equal(("agent.local", 4000, false), (agent.Host, agent.Port, agent.IsUdp));
        Assert.Equal("mine", agent.LogGroupName);
    }

    [Theory]
    [InlineData("http://127.0.0.1:25888", "scheme 'http'")]
    [InlineData("tcp://127.0.0.1", "has no port")]
    [InlineData("udp://localhost", "has no port")]
    [InlineData("127.0.0.1:25888", "tcp://host:port")]
    [InlineData("not an endpoint", "is not an endpoint")]
    [InlineData("tcp://127.0.0.1:25888/path", "only scheme, host and port")]
    public void Agent_BadEndpoint_FailsQuotingIt(string endpoint, string rule)
    {
        var e = Assert.Throws<ConfigurationException>(() => Block("cloudwatch-agent", $"endpoint = \"{endpoint}\""));
        Assert.Contains($"\"{endpoint}\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("akka.token-telemetry.emitter.e.endpoint", e.Message, StringComparison.Ordinal);
        Assert.Contains(rule, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Agent_BadEndpointFromTheEnvironment_FailsNamingTheVariable()
    {
        var e = Assert.Throws<ConfigurationException>(() => Block("cloudwatch-agent", string.Empty, new Dictionary<string, string> { ["AWS_EMF_AGENT_ENDPOINT"] = "tcp://nohost" }));
        Assert.Contains("AWS_EMF_AGENT_ENDPOINT", e.Message, StringComparison.Ordinal);
        Assert.Contains("\"tcp://nohost\"", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("log-group-name = \"bad group!\"", "log-group-name")]
    [InlineData("log-stream-name = \"a:b\"", "log-stream-name")]
    public void Agent_BadLogGroupOrStream_Fails(string block, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => Block("cloudwatch-agent", block));
        Assert.Contains($"akka.token-telemetry.emitter.e.{key}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Http_ReadsUrlHeadersAndTimeout()
    {
        var http = Block("http", "url = \"https://collector.example/emf\", timeout = 3s\nheaders { Authorization = \"Bearer t\", X-Team = agents }").Http!;
        Assert.Equal(new Uri("https://collector.example/emf"), http.Url);
        Assert.Equal([new("Authorization", "Bearer t"), new("X-Team", "agents")], http.Headers);
        Assert.Equal(TimeSpan.FromSeconds(3), http.Timeout);
        Assert.Equal("application/x-ndjson", http.ContentType);
    }

    [Theory]
    [InlineData("", "url", "is required")]
    [InlineData("url = \"ftp://x/y\"", "url", "http:// or https://")]
    [InlineData("url = \"http://x/\", headers { \"Bad Header\" = x }", "headers.", "header name")]
    public void Http_BadSettings_Fail(string block, string key, string rule)
    {
        var e = Assert.Throws<ConfigurationException>(() => Block("http", block));
        Assert.Contains($"akka.token-telemetry.emitter.e.{key}", e.Message, StringComparison.Ordinal);
        Assert.Contains(rule, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Http_TimeoutAboveAskTimeout_IsCappedJustBelowIt()
    {
        var http = Block("http", "url = \"http://x/\", timeout = 30s, ask-timeout = 4s").Http!;
        Assert.Equal(TimeSpan.FromSeconds(3.6), http.Timeout);
    }

    [Fact]
    public void Http_UrlWithCredentials_IsRefusedWithoutShowingThem()
    {
        var e = Assert.Throws<ConfigurationException>(() => Block("http", "url = \"https://user:s3cret@collector.example/emf\""));
        Assert.Contains("akka.token-telemetry.emitter.e.url", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Http_HeaderValueWithALineBreak_IsRefusedWithoutShowingIt()
    {
        var e = Assert.Throws<ConfigurationException>(() => Block("http", "url = \"http://x/\"\nheaders { Authorization = \"Bearer s3cret\\nX-Evil: 1\" }"));
        Assert.Contains("akka.token-telemetry.emitter.e.headers.Authorization", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void File_TwoEmittersOnOneFile_AreRefused()
    {
        var path = Path.Combine(Path.GetTempPath(), "shared.log").Replace("\\", "\\\\", StringComparison.Ordinal);
        var e = Assert.Throws<ConfigurationException>(() => Parse($"akka.token-telemetry {{ emitters = [a, b]\nemitter.a {{ type = file, path = \"{path}\" }}\nemitter.b {{ type = file, path = \"{path}\" }} }}"));
        Assert.Contains("akka.token-telemetry.emitter.b.path", e.Message, StringComparison.Ordinal);
        Assert.Contains("'a'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Logger_LevelList_IsRefused()
    {
        var e = Assert.Throws<ConfigurationException>(() => Block("logger", "level = \"Information, Warning\""));
        Assert.Contains("akka.token-telemetry.emitter.e.level", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void File_MissingDirectory_IsAStartUpError()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-dir-{Guid.NewGuid():N}", "emf.log");
        var e = Assert.Throws<ConfigurationException>(() => Block("file", $"path = \"{missing.Replace("\\", "\\\\")}\""));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        Assert.Contains("akka.token-telemetry.emitter.e.path", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void File_PathIsRequired_AndRotationIsOffByDefault()
    {
        Assert.Contains("is required", Assert.Throws<ConfigurationException>(() => Block("file", string.Empty)).Message, StringComparison.Ordinal);
        var file = Block("file", $"path = \"{Path.Combine(Path.GetTempPath(), "x.log").Replace("\\", "\\\\")}\"").File!;
        Assert.Equal(0, file.MaxFileSize);
        Assert.Equal(5, file.KeepFiles);
    }

    [Fact]
    public void Logger_DefaultsAndBadLevel()
    {
        var logger = Block("logger", string.Empty).Logger!;
        Assert.Equal(("AkkaTokenTelemetry.Emf", Microsoft.Extensions.Logging.LogLevel.Information), (logger.Category, logger.Level));
        var e = Assert.Throws<ConfigurationException>(() => Block("logger", "level = loud"));
        Assert.Contains("akka.token-telemetry.emitter.e.level", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"No.Such.Type, NoSuchAssembly\"", "can be loaded")]
    [InlineData("\"System.String, System.Private.CoreLib\"", "implementing AkkaTokenTelemetry.IEmfEmitter")]
    public void CustomType_ThatIsNotAnEmitter_FailsAtStartUp(string type, string rule)
    {
        var e = Assert.Throws<ConfigurationException>(() => Block(type, string.Empty));
        Assert.Contains("akka.token-telemetry.emitter.e.type", e.Message, StringComparison.Ordinal);
        Assert.Contains(rule, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoggerEmitter_WithoutALoggerFactory_FailsAtStartUpSayingWhatToDo()
    {
        var system = ActorSystem.Create("no-logger-factory", ConfigurationFactory.ParseString("akka.token-telemetry { emitters = [log], emitter.log.type = logger }").WithFallback(TokenTelemetry.DefaultConfig));
        try
        {
            var e = Assert.ThrowsAny<Exception>(() => TokenTelemetry.Get(system)).GetBaseException();
            Assert.Contains("akka.token-telemetry.emitter.log.type", e.Message, StringComparison.Ordinal);
            Assert.Contains("WithLoggerFactory", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
