using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Hosting;
using AkkaTokenTelemetry.Extensions.AI;
using AkkaTokenTelemetry.Extensions.AI.Tests.Support;
using AkkaTokenTelemetry.Hosting.Tests.Support;
using AkkaTokenTelemetry.Tests.Support;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry.Hosting.Tests;

/// <summary>
/// The Akka.Hosting forms of the README's "Common patterns", as written there, each in a host of its own, started
/// by hand and called through the loopback OpenAI server. Test-only additions are marked: quiet logging and a short
/// batch delay (HOCON added before the README's lines), and, where the README's hook writes to the configured
/// emitters, an <c>Emitter</c> that collects the events.
/// </summary>
public sealed class ReadmeHostingPatternsSpecs : IAsyncDisposable
{
    /// <summary>The most any host start, call, flush or stop may take here.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    private const string TestHocon = """
        akka { loglevel = WARNING, stdout-loglevel = OFF }
        akka.token-telemetry { emitters = [], batch.max-delay = 50ms }
        """;

    private readonly LoopbackOpenAIServer _server = new();
    private readonly ConcurrentQueue<JsonObject> _collected = new();
    private IHost? _host;

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync().WaitAsync(Bound);
            _host.Dispose();
        }

        await _server.DisposeAsync();
    }

    /// <summary>Builds and starts the host whose services <paramref name="configure"/> registers.</summary>
    private async Task<IServiceProvider> StartAsync(Action<IServiceCollection> configure)
    {
        var builder = Host.CreateEmptyApplicationBuilder(settings: null);
        configure(builder.Services);
        _host = builder.Build();
        await _host.StartAsync().WaitAsync(Bound);
        return _host.Services;
    }

    /// <summary>A test-only hook emitter that keeps each event, checked against the EMF rules.</summary>
    private void Collect(JsonObject payload)
    {
        EmfAssert.Valid(payload);
        _collected.Enqueue(payload);
    }

    private static async Task FlushAsync(IServiceProvider services) =>
        await TokenTelemetry.Get(services.GetRequiredService<Akka.Actor.ActorSystem>()).FlushAsync().WaitAsync(Bound);

    [Fact]
    public async Task Custom_namespace_with_session_context()
    {
        IChatClient openAIChatClient = _server.CreateChatClient();
        var serviceProvider = await StartAsync(s =>
        {
            s.AddAkka("agents", akka => akka.AddHocon(TestHocon, HoconAddMode.Prepend).WithTokenTelemetry());
            s.AddTokenTelemetry();
        });
        const string modelId = "gpt-4o-mini";
        const string userId = "user-42";
        const string sessionId = "session-7";
        var options = new TokenUsageHookOptions
        {
            Namespace = "AcmeInc/AgentTokens",
            DimensionValues = new Dictionary<string, string> { ["Model"] = modelId },
            ExtraProperties = new Dictionary<string, object?> { ["UserId"] = userId, ["SessionId"] = sessionId },
            Emitter = Collect, // test only
        };

        // README
        IChatClient sessionChat = openAIChatClient.AsBuilder()
            .UseTokenTelemetry(serviceProvider.GetRequiredService<TokenTelemetry>().CreateHook(options)).Build();
        // README end

        await sessionChat.GetResponseAsync("hi").WaitAsync(Bound);
        await FlushAsync(serviceProvider);
        var e = Assert.Single(_collected);
        Assert.Equal("AcmeInc/AgentTokens", e["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
        Assert.Equal("gpt-4o-mini", e["Model"]!.GetValue<string>());
        Assert.Equal("user-42", e["UserId"]!.GetValue<string>());
        Assert.Equal("session-7", e["SessionId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Dynamic_dimensions_resolved_at_runtime()
    {
        IChatClient openAIChatClient = _server.CreateChatClient();
        var options = new TokenUsageHookOptions
        {
            Dimensions = [["Model", "Environment"]],
            DimensionValues = new Dictionary<string, string> { ["Environment"] = "prod" },
            DimensionResolver = e => new Dictionary<string, string> { ["Model"] = e.Result?.Model ?? "unknown" },
            Emitter = Collect, // test only
        };

        var sp = await StartAsync(services =>
        {
            // README
            services.AddAkka("agents", akka => akka
                .AddHocon(TestHocon, HoconAddMode.Prepend) // test only
                .WithTokenTelemetry(o => o.Hook = options));
            services.AddTokenTelemetry();
            services.AddSingleton<IChatClient>(sp => openAIChatClient.AsBuilder().UseTokenTelemetry().Build(sp));
            // README end
        });

        await sp.GetRequiredService<IChatClient>().GetResponseAsync("hi").WaitAsync(Bound);
        sp.GetRequiredService<TokenUsageHook>().OnAfterInvocation(new AfterInvocationEvent
        {
            Agent = new AgentInfo { Name = "direct" },
            Result = new AgentResult { Usage = new Dictionary<string, long> { ["inputTokens"] = 1 }, Model = "gpt-4o" },
        });
        await FlushAsync(sp);

        Assert.Equal(2, _collected.Count); // the chat client's and the DI hook's
        Assert.All(_collected, e => Assert.Equal("prod", e["Environment"]!.GetValue<string>()));
        Assert.Equal(["gpt-4o", LoopbackOpenAIServer.Model], _collected.Select(e => e["Model"]!.GetValue<string>()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Suppress_output()
    {
        IChatClient openAIChatClient = _server.CreateChatClient();
        var sp = await StartAsync(services =>
        {
            services.AddAkka("agents", akka => akka
                .AddHocon(TestHocon.Replace("emitters = [], ", string.Empty, StringComparison.Ordinal), HoconAddMode.Prepend) // test only; emitters stay [stdout]
                // README
                .WithTokenTelemetry(o => o.Emitters = ["null"]));
            // README end
        });

        await openAIChatClient.AsBuilder().UseTokenTelemetry().Build(sp).GetResponseAsync("hi").WaitAsync(Bound);
        await FlushAsync(sp);

        var stats = TokenTelemetry.Get(sp.GetRequiredService<Akka.Actor.ActorSystem>()).Stats;
        Assert.Equal(1, stats.Emitters["null"].RecordsDelivered);
        Assert.DoesNotContain("stdout", stats.Emitters.Keys);
        Assert.Equal(0, stats.RecordsDroppedTotal);
    }

    [Fact]
    public async Task Pretty_print_for_debugging()
    {
        IChatClient openAIChatClient = _server.CreateChatClient();
        var output = new StringWriter(); // README: var output = Console.Out;
        var indented = new JsonSerializerOptions { WriteIndented = true };
        var options = new TokenUsageHookOptions { Emitter = payload => output.WriteLine(payload.ToJsonString(indented)) };

        var sp = await StartAsync(services =>
        {
            // README
            services.AddAkka("agents", akka => akka
                .AddHocon(TestHocon, HoconAddMode.Prepend) // test only
                .WithTokenTelemetry(o => o.Hook = options));
            // README end
        });

        await openAIChatClient.AsBuilder().UseTokenTelemetry().Build(sp).GetResponseAsync("hi").WaitAsync(Bound);
        await FlushAsync(sp);

        var text = output.ToString().ReplaceLineEndings("\n");
        Assert.StartsWith("{\n  \"_aws\": {", text, StringComparison.Ordinal);
        var e = Assert.IsType<JsonObject>(JsonNode.Parse(text));
        EmfAssert.Valid(e);
        Assert.Equal(120, e["inputTokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Route_to_logging()
    {
        IChatClient openAIChatClient = _server.CreateChatClient();
        var provider = new CollectingLoggerProvider();
        var sp = await StartAsync(services =>
        {
            services.AddLogging(logging => logging.AddProvider(provider)); // test only
            // README
            services.AddAkka("agents", akka => akka
                .AddHocon(TestHocon, HoconAddMode.Prepend) // test only
                .AddHocon("""akka.token-telemetry { emitters = [app-log], emitter.app-log { type = logger, category = "TokenTelemetry" } }""",
                    HoconAddMode.Prepend)
                .WithTokenTelemetry());
            // README end
        });

        await openAIChatClient.AsBuilder().UseTokenTelemetry().Build(sp).GetResponseAsync("hi").WaitAsync(Bound);
        await FlushAsync(sp);

        var (level, message) = Assert.Single(provider.Entries, entry => entry.Category == "TokenTelemetry").Entry;
        Assert.Equal(LogLevel.Information, level);
        Assert.Equal(45, EmfAssert.ValidLine(message)["outputTokens"]!.GetValue<long>());
    }

    [Fact]
    public async Task Forward_to_an_external_service_beside_the_HOCON_emitters()
    {
        IChatClient openAIChatClient = _server.CreateChatClient();
        using var collector = new NdjsonCollector();
        using var http = new HttpClient();
        var endpoint = collector.Endpoint;
        var hoconEmitter = new CollectingEmitter();

        var sp = await StartAsync(services =>
        {
            services.AddAkka("agents", akka => akka
                .AddHocon(TestHocon.Replace("emitters = []", "emitters = [hocon-copy], emitter.hocon-copy.type = delegate", StringComparison.Ordinal), HoconAddMode.Prepend) // test only
                .AddSetup(new TokenTelemetrySetup().WithEmitter("hocon-copy", hoconEmitter)) // test only
                // README
                .WithTokenTelemetry(o => o.AddEmitter("forward", new HttpForwardingEmitter(http, endpoint))));
            // README end
        });

        await openAIChatClient.AsBuilder().UseTokenTelemetry().Build(sp).GetResponseAsync("hi").WaitAsync(Bound);
        await FlushAsync(sp);

        var (contentType, line) = Assert.Single(collector.Lines);
        Assert.Equal("application/x-ndjson", contentType);
        var forwarded = EmfAssert.ValidLine(line);
        Assert.Equal(165, forwarded["totalTokens"]!.GetValue<long>());
        Assert.True(JsonNode.DeepEquals(Assert.Single(hoconEmitter.Events), forwarded)); // the HOCON emitters keep running beside it
    }
}

/// <summary>The README's note: call <c>WithTokenTelemetry</c> after <c>AddHocon</c>, because it renders its options when called.</summary>
public sealed class WithTokenTelemetryOrderTests
{
    private const string Hocon = "akka.token-telemetry { emitters = [stdout, events-file], emitter.events-file { type = file, path = \"/tmp/emf.log\" } }";

    private static IList<string> ActiveEmitters(Action<AkkaConfigurationBuilder> configure)
    {
        var builder = new AkkaConfigurationBuilder(new ServiceCollection(), "order");
        configure(builder);
        return builder.Configuration.Value.GetStringList("akka.token-telemetry.emitters");
    }

    private static readonly IEmfEmitter Audit = new CollectingEmitter();

    [Fact]
    public void HOCON_added_first_keeps_its_emitters_and_the_code_emitter_is_added_to_them()
    {
        Assert.Equal(
            ["stdout", "events-file", "audit"],
            ActiveEmitters(akka => akka.AddHocon(Hocon, HoconAddMode.Prepend).WithTokenTelemetry(o => o.AddEmitter("audit", Audit))));
    }

    [Fact]
    public void HOCON_prepended_after_WithTokenTelemetry_drops_the_code_emitter()
    {
        Assert.Equal(
            ["stdout", "events-file"],
            ActiveEmitters(akka => akka.WithTokenTelemetry(o => o.AddEmitter("audit", Audit)).AddHocon(Hocon, HoconAddMode.Prepend)));
    }

    [Fact]
    public void HOCON_appended_after_WithTokenTelemetry_falls_behind_reference_conf_and_its_emitters_are_ignored()
    {
        Assert.Equal(["stdout", "audit"], ActiveEmitters(akka => akka.WithTokenTelemetry(o => o.AddEmitter("audit", Audit)).AddHocon(Hocon, HoconAddMode.Append)));
        Assert.Equal(["stdout"], ActiveEmitters(akka => akka.WithTokenTelemetry().AddHocon(Hocon, HoconAddMode.Append)));
    }
}
