// The README shows the plain ILogger call; the analyzers' LoggerMessage advice does not apply to an example.
#pragma warning disable CA1848, CA1873
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using AkkaTokenTelemetry.Extensions.AI.Tests.Support;
using AkkaTokenTelemetry.Tests.Support;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Extensions.AI.Tests;

/// <summary>
/// The README's "Common patterns", as written there for a Microsoft.Extensions.AI chat client and a Microsoft Agent
/// Framework agent, run against the loopback OpenAI server: each pattern's chat client and agent are called once, so
/// each test sees two events. Where the README's hook writes to the configured emitters, the copy here adds
/// <c>Emitter = EmfEmitters.ToActor(TestActor)</c> to see the events. The Akka.Hosting forms run in
/// <c>AkkaTokenTelemetry.Hosting.Tests/ReadmeHostingPatternsSpecs.cs</c>.
/// </summary>
public sealed class ReadmePatternsTests(ITestOutputHelper output) : TelemetryTestKit(output), IAsyncLifetime
{
    private readonly LoopbackOpenAIServer _server = new();

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _server.DisposeAsync();

    private static async Task CallBothAsync(IChatClient chat, AIAgent agent)
    {
        await chat.GetResponseAsync("hi");
        await agent.RunAsync("hi");
    }

    [Fact]
    public async Task Custom_namespace_with_session_context()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();
        const string modelId = "gpt-4o-mini";
        const string userId = "user-42";
        const string sessionId = "session-7";

        // README
        var options = new TokenUsageHookOptions
        {
            Namespace = "AcmeInc/AgentTokens",
            DimensionValues = new Dictionary<string, string> { ["Model"] = modelId },
            ExtraProperties = new Dictionary<string, object?> { ["UserId"] = userId, ["SessionId"] = sessionId },
            Emitter = EmfEmitters.ToActor(TestActor), // test only
        };
        IChatClient chat = openAIChatClient.AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        AIAgent agent = openAIChatClient.AsAIAgent(name: "researcher").AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        // README end

        await CallBothAsync(chat, agent);
        foreach (var e in new[] { await NextEventAsync(), await NextEventAsync() })
        {
            Assert.Equal("AcmeInc/AgentTokens", e["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
            Assert.Equal("gpt-4o-mini", e["Model"]!.GetValue<string>());
            Assert.Equal("user-42", e["UserId"]!.GetValue<string>());
            Assert.Equal("session-7", e["SessionId"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task Dynamic_dimensions_resolved_at_runtime()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();

        // README
        var options = new TokenUsageHookOptions
        {
            Dimensions = [["Model", "Environment"]],
            DimensionValues = new Dictionary<string, string> { ["Environment"] = "prod" },
            DimensionResolver = e => new Dictionary<string, string> { ["Model"] = e.Result?.Model ?? "unknown" },
            Emitter = EmfEmitters.ToActor(TestActor), // test only
        };
        IChatClient chat = openAIChatClient.AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        AIAgent agent = openAIChatClient.AsAIAgent(name: "researcher").AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        // README end

        await CallBothAsync(chat, agent);
        foreach (var e in new[] { await NextEventAsync(), await NextEventAsync() })
        {
            Assert.Equal(LoopbackOpenAIServer.Model, e["Model"]!.GetValue<string>());
            Assert.Equal("prod", e["Environment"]!.GetValue<string>());
            Assert.Equal(["Model", "Environment"], e["_aws"]!["CloudWatchMetrics"]![0]!["Dimensions"]![0]!.AsArray().Select(d => d!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task Suppress_output()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();

        // README
        var options = new TokenUsageHookOptions { Emitter = _ => { } };
        IChatClient chat = openAIChatClient.AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        AIAgent agent = openAIChatClient.AsAIAgent(name: "researcher").AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        // README end

        await CallBothAsync(chat, agent);
        await telemetry.FlushAsync();
        Assert.Equal(2, telemetry.Stats.RecordsAccepted);
        Assert.Equal(2, telemetry.Stats.Emitters["hook-emitters"].RecordsDelivered); // to the hook's no-op emitter
        Assert.Equal(0, telemetry.Stats.RecordsDroppedTotal);
    }

    [Fact]
    public async Task Pretty_print_for_debugging()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();
        var output = new StringWriter(); // README: var output = Console.Out;

        // README
        var indented = new JsonSerializerOptions { WriteIndented = true };
        var options = new TokenUsageHookOptions { Emitter = payload => output.WriteLine(payload.ToJsonString(indented)) };
        IChatClient chat = openAIChatClient.AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        AIAgent agent = openAIChatClient.AsAIAgent(name: "researcher").AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        // README end

        await CallBothAsync(chat, agent);
        await telemetry.FlushAsync();
        var events = IndentedEvents(output.ToString());
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal(120, e["inputTokens"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Route_to_logging()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();
        var logger = new ListLogger(); // README: ILogger logger = loggerFactory.CreateLogger("TokenTelemetry");

        // README
        var options = new TokenUsageHookOptions
        {
            Emitter = payload => logger.LogInformation("{TokenUsageEmf}", payload.ToJsonString()),
        };
        IChatClient chat = openAIChatClient.AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        AIAgent agent = openAIChatClient.AsAIAgent(name: "researcher").AsBuilder().UseTokenTelemetry(telemetry.CreateHook(options)).Build();
        // README end

        await CallBothAsync(chat, agent);
        await telemetry.FlushAsync();
        Assert.Equal(2, logger.Messages.Count);
        Assert.All(logger.Messages, line => Assert.Equal(45, EmfAssert.ValidLine(line)["outputTokens"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Forward_to_an_external_service()
    {
        using var collector = new NdjsonCollector();
        using var http = new HttpClient();
        var endpoint = collector.Endpoint;
        IChatClient openAIChatClient = _server.CreateChatClient();

        // README (the emitter class is Support/HttpForwardingEmitter)
        var setup = new TokenTelemetrySetup().WithEmitter("forward", new HttpForwardingEmitter(http, endpoint));
        var config = ConfigurationFactory.ParseString("akka.token-telemetry { emitters = [forward], emitter.forward.type = delegate }")
            .WithFallback(ConfigurationFactory.ParseString(Hocon)); // test only: quiet logging, short batch delay
        var system = ActorSystem.Create("agents", ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), setup));
        var telemetry = TokenTelemetry.Get(system);
        IChatClient chat = openAIChatClient.AsBuilder().UseTokenTelemetry(telemetry.CreateHook()).Build();
        AIAgent agent = openAIChatClient.AsAIAgent(name: "researcher").AsBuilder().UseTokenTelemetry(telemetry.CreateHook()).Build();
        // README end

        try
        {
            await CallBothAsync(chat, agent);
            await telemetry.FlushAsync();

            Assert.Equal(2, collector.Lines.Count);
            Assert.All(collector.Lines, received =>
            {
                Assert.Equal("application/x-ndjson", received.ContentType);
                Assert.Equal(165, EmfAssert.ValidLine(received.Line)["totalTokens"]!.GetValue<long>());
            });
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>Splits what the pretty-printing emitter wrote into its events: each ends with a "}" line of its own.</summary>
    private static List<JsonObject> IndentedEvents(string text)
    {
        var events = text.ReplaceLineEndings("\n").Split("\n}\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(part => Assert.IsType<JsonObject>(JsonNode.Parse(part + "\n}")))
            .ToList();
        Assert.All(events, e => EmfAssert.Valid(e));
        Assert.StartsWith("{\n  \"_aws\": {", text.ReplaceLineEndings("\n"), StringComparison.Ordinal); // indented as written
        return events;
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _messages = [];

        public IReadOnlyList<string> Messages
        {
            get
            {
                lock (_messages)
                {
                    return [.. _messages];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_messages)
            {
                _messages.Add(formatter(state, exception));
            }
        }
    }
}
