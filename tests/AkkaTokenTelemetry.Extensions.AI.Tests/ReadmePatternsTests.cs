// The README shows the plain ILogger call; the analyzers' LoggerMessage advice does not apply to an example.
#pragma warning disable CA1848, CA1873
using System.Net;
using System.Net.Http.Headers;

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using AkkaTokenTelemetry.Extensions.AI.Tests.Support;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Extensions.AI.Tests;

/// <summary>
/// The README's "Common patterns", as written there, run against the loopback OpenAI server. Where the README's
/// hook writes to the configured emitters, the copy here adds <c>Emitter = EmfEmitters.ToActor(TestActor)</c> to see the event.
/// </summary>
public sealed class ReadmePatternsTests(ITestOutputHelper output) : TelemetryTestKit(output), IAsyncLifetime
{
    private readonly LoopbackOpenAIServer _server = new();

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Custom_namespace_with_session_context()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();
        const string modelId = "gpt-4o-mini";
        const string userId = "user-42";
        const string sessionId = "session-7";

        // README
        var hook = telemetry.CreateHook(new TokenUsageHookOptions
        {
            Namespace = "AcmeInc/AgentTokens",
            DimensionValues = new Dictionary<string, string> { ["Model"] = modelId },
            ExtraProperties = new Dictionary<string, object?> { ["UserId"] = userId, ["SessionId"] = sessionId },
            Emitter = EmfEmitters.ToActor(TestActor), // test only
        });
        IChatClient chat = openAIChatClient.AsBuilder().UseTokenTelemetry(hook).Build();
        // README end

        await chat.GetResponseAsync("hi");
        var e = await NextEventAsync();
        Assert.Equal("AcmeInc/AgentTokens", e["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
        Assert.Equal("gpt-4o-mini", e["Model"]!.GetValue<string>());
        Assert.Equal("user-42", e["UserId"]!.GetValue<string>());
        Assert.Equal("session-7", e["SessionId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Dynamic_dimensions_resolved_at_runtime()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();

        // README
        var hook = telemetry.CreateHook(new TokenUsageHookOptions
        {
            Dimensions = [["Model", "Environment"]],
            DimensionValues = new Dictionary<string, string> { ["Environment"] = "prod" },
            DimensionResolver = e => new Dictionary<string, string> { ["Model"] = e.Result?.Model ?? "unknown" },
            Emitter = EmfEmitters.ToActor(TestActor), // test only
        });
        AIAgent agent = openAIChatClient.AsAIAgent(name: "researcher").AsBuilder().UseTokenTelemetry(hook).Build();
        // README end

        await agent.RunAsync("hi");
        var e = await NextEventAsync();
        Assert.Equal(LoopbackOpenAIServer.Model, e["Model"]!.GetValue<string>());
        Assert.Equal("prod", e["Environment"]!.GetValue<string>());
    }

    [Fact]
    public async Task Suppress_output()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();

        // README
        var hook = telemetry.CreateHook(new TokenUsageHookOptions { Emitter = _ => { } });
        // README end

        await openAIChatClient.AsBuilder().UseTokenTelemetry(hook).Build().GetResponseAsync("hi");
        await telemetry.FlushAsync();
        Assert.Equal(1, telemetry.Stats.RecordsAccepted);
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
        var hook = telemetry.CreateHook(new TokenUsageHookOptions { Emitter = payload => output.WriteLine(payload.ToJsonString(indented)) });
        // README end

        await openAIChatClient.AsBuilder().UseTokenTelemetry(hook).Build().GetResponseAsync("hi");
        await telemetry.FlushAsync();
        var text = output.ToString();
        Assert.Contains("\n  \"_aws\": {", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal(120, JsonNode.Parse(text)!["inputTokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Route_to_logging()
    {
        var telemetry = Telemetry;
        IChatClient openAIChatClient = _server.CreateChatClient();
        var logger = new ListLogger(); // README: ILogger logger = loggerFactory.CreateLogger("TokenTelemetry");

        // README
        var hook = telemetry.CreateHook(new TokenUsageHookOptions
        {
            Emitter = payload => logger.LogInformation("{TokenUsageEmf}", payload.ToJsonString()),
        });
        // README end

        await openAIChatClient.AsBuilder().UseTokenTelemetry(hook).Build().GetResponseAsync("hi");
        await telemetry.FlushAsync();
        var line = Assert.Single(logger.Messages);
        Assert.Equal(45, AkkaTokenTelemetry.Tests.Support.EmfAssert.ValidLine(line)["outputTokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Forward_to_an_external_service()
    {
        using var listener = new HttpListener();
        var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var port = ((IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var http = new HttpClient();
        var received = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            using var reader = new StreamReader(context.Request.InputStream);
            var body = await reader.ReadToEndAsync();
            context.Response.StatusCode = 202;
            context.Response.Close();
            return (context.Request.ContentType, body);
        });

        // README (the emitter class is HttpForwardingEmitter below)
        var setup = new TokenTelemetrySetup().WithEmitter("forward", new HttpForwardingEmitter(http, new Uri($"http://127.0.0.1:{port}/ingest")));
        var config = ConfigurationFactory.ParseString("""
            akka.token-telemetry { emitters = [forward], emitter.forward.type = delegate }
            """).WithFallback(ConfigurationFactory.ParseString(Hocon)).WithFallback(TokenTelemetry.DefaultConfig);
        // README end

        using var system = ActorSystem.Create("forwarding", ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), setup));
        var hook = TokenTelemetry.Get(system).CreateHook();
        await _server.CreateChatClient().AsBuilder().UseTokenTelemetry(hook).Build().GetResponseAsync("hi");
        await TokenTelemetry.Get(system).FlushAsync();

        var (contentType, body) = await received;
        Assert.Equal("application/x-ndjson", contentType);
        Assert.Equal(165, AkkaTokenTelemetry.Tests.Support.EmfAssert.ValidLine(body)["totalTokens"]!.GetValue<long>());
        await system.Terminate();
    }

    /// <summary>README: posts each batch as newline-delimited JSON; a failure throws, so the pipeline retries the batch.</summary>
    public sealed class HttpForwardingEmitter(HttpClient http, Uri endpoint) : IEmfEmitter
    {
        public async ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
        {
            using var content = new ByteArrayContent(batch.Utf8Lines.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            using var response = await http.PostAsync(endpoint, content, cancellationToken);
            response.EnsureSuccessStatusCode();
        }
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Messages)
            {
                Messages.Add(formatter(state, exception));
            }
        }
    }
}
