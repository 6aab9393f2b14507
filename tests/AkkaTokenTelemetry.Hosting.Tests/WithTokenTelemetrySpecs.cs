using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using AkkaTokenTelemetry.Extensions.AI;
using AkkaTokenTelemetry.Extensions.AI.Tests.Support;
using AkkaTokenTelemetry.Hosting.Tests.Support;
using AkkaTokenTelemetry.Tests.Support;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry.Hosting.Tests;

/// <summary>
/// A host built with <c>AddAkka(… WithTokenTelemetry(…))</c> and <c>AddTokenTelemetry()</c>: an emitter added in code
/// (<c>AddEmitter</c>), a delegate emitter and a real <c>type = file</c> emitter configured in HOCON, side by side.
/// </summary>
public sealed class WithTokenTelemetrySpecs(ITestOutputHelper output)
    : Akka.Hosting.TestKit.TestKit("hosting", output, logLevel: LogLevel.Warning), IAsyncDisposable
{
    private readonly CollectingEmitter _codeEmitter = new();
    private readonly CollectingEmitter _hoconEmitter = new();
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("akka-token-telemetry-hosting-");

    private string EventsFile => Path.Combine(_directory.FullName, "emf.log");

    protected override Config Config => ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        akka.token-telemetry {
          namespace = "FromHocon/Tokens"
          batch.max-delay = 50ms
          emitters = [hocon-audit, events-file]
          emitter.hocon-audit { type = delegate, buffer-batches = 8 }
          emitter.events-file { type = file, path = {{JsonSerializer.Serialize(EventsFile)}} }
        }
        """);

    /// <summary>Deletes the file emitter's directory once the host, and with it the file emitter, has stopped.</summary>
    async ValueTask IAsyncDisposable.DisposeAsync()
    {
        await DisposeAsync();
        _directory.Delete(recursive: true);
    }

    /// <summary>The events the file emitter appended, each line checked against the EMF rules.</summary>
    private List<JsonObject> FileEvents() => File.ReadAllLines(EventsFile).Select(line => EmfAssert.ValidLine(line)).ToList();

    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services) =>
        services.AddTokenTelemetry();

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider)
    {
        builder
            .AddSetup(new TokenTelemetrySetup().WithEmitter("hocon-audit", _hoconEmitter))
            .WithTokenTelemetry(o =>
            {
                o.Namespace = "FromOptions/Tokens";
                o.Dimensions = [["Model", "Agent"], ["Environment"]];
                o.DimensionValues = new Dictionary<string, string> { ["Environment"] = "test" };
                o.AddEmitter("code", _codeEmitter);
                o.Hook = new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Service"] = "hosting-spec" } };
            });
    }

    private static AfterInvocationEvent Invocation(string agent = "research-agent") => new()
    {
        Agent = new AgentInfo { Name = agent },
        Result = new AgentResult { Usage = new Dictionary<string, long> { ["inputTokens"] = 1523, ["outputTokens"] = 842 }, Model = "gpt-4o" },
    };

    [Fact]
    public async Task The_default_hook_emits_the_same_events_through_the_code_emitter_and_the_HOCON_delegate_and_file_emitters()
    {
        var hook = Host.Services.GetRequiredService<TokenUsageHook>();
        var telemetry = Host.Services.GetRequiredService<TokenTelemetry>();

        hook.OnAfterInvocation(Invocation());
        hook.OnAfterInvocation(Invocation("writer-agent"));
        await telemetry.FlushAsync();

        var code = _codeEmitter.Events.ToList();
        var inFile = FileEvents();
        Assert.Equal(["research-agent", "writer-agent"], code.Select(e => e["Agent"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        foreach (var events in new[] { _hoconEmitter.Events.ToList(), inFile })
        {
            Assert.Equal(code.Count, events.Count);
            Assert.All(code, e => Assert.Contains(events, other => JsonNode.DeepEquals(e, other))); // the same events, value for value
        }

        foreach (var e in code)
        {
            Assert.Equal(1523, e["inputTokens"]!.GetValue<long>());
            Assert.Equal("gpt-4o", e["Model"]!.GetValue<string>());
            Assert.Equal("test", e["Environment"]!.GetValue<string>());
            Assert.Equal("hosting-spec", e["Service"]!.GetValue<string>());
            Assert.Equal("FromOptions/Tokens", e["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>()); // options override HOCON
        }

        Assert.Equal(2, telemetry.Stats.Emitters["code"].RecordsDelivered);
        Assert.Equal(2, telemetry.Stats.Emitters["hocon-audit"].RecordsDelivered);
        Assert.Equal(2, telemetry.Stats.Emitters["events-file"].RecordsDelivered);
    }

    [Fact]
    public void TokenTelemetry_and_the_hook_come_from_the_actor_system_of_the_host()
    {
        var telemetry = Host.Services.GetRequiredService<TokenTelemetry>();

        Assert.Same(TokenTelemetry.Get(Sys), telemetry);
        Assert.Same(Host.Services.GetRequiredService<TokenUsageHook>(), Host.Services.GetRequiredService<TokenUsageHook>());
        Assert.Equal(telemetry.Router, ActorRegistry.Get<TokenTelemetry>());
        Assert.Equal("hosting-spec", Host.Services.GetRequiredService<TokenUsageHook>().Options.ExtraProperties!["Service"]);
    }

    [Fact]
    public async Task Chat_clients_and_agents_built_with_the_host_services_use_its_hook()
    {
        await using var server = new LoopbackOpenAIServer();
        var chat = server.CreateChatClient().AsBuilder().UseTokenTelemetry().Build(Host.Services);
        var agent = server.CreateChatClient().AsAIAgent(name: "planner").AsBuilder().UseTokenTelemetry().Build(Host.Services);

        await chat.GetResponseAsync("hi");
        await agent.RunAsync("hi");
        await Host.Services.GetRequiredService<TokenTelemetry>().FlushAsync();

        Assert.Equal(2, _codeEmitter.Events.Count);
        Assert.All(_codeEmitter.Events, e => Assert.Equal(LoopbackOpenAIServer.Model, e["Model"]!.GetValue<string>()));
        Assert.Equal(["planner", "unknown"], _codeEmitter.Events.Select(e => e["Agent"]!.GetValue<string>()).Order(StringComparer.Ordinal));
    }
}

/// <summary>What <see cref="TokenTelemetryOptions"/> renders, without a host.</summary>
public sealed class TokenTelemetryOptionsTests
{
    [Fact]
    public void Unset_options_render_nothing()
    {
        Assert.Equal(string.Empty, new TokenTelemetryOptions().ToString());
    }

    [Fact]
    public void Set_options_render_HOCON_that_parses_back_to_the_same_values()
    {
        var options = new TokenTelemetryOptions
        {
            Namespace = "Acme \"Inc\"/Tokens",
            Dimensions = [["Model"], ["Model", "Environment"]],
            DimensionValues = new Dictionary<string, string> { ["Environment"] = "prod" },
            ExtraProperties = new Dictionary<string, string> { ["Team"] = "search" },
            MissingDimensionValue = "n/a",
            MergeEnabled = true,
            BatchMaxDelay = TimeSpan.FromMilliseconds(75),
            ShutdownTimeout = TimeSpan.FromSeconds(3),
        };

        var config = ConfigurationFactory.ParseString(options.ToString()).GetConfig("akka.token-telemetry");

        Assert.Equal("Acme \"Inc\"/Tokens", config.GetString("namespace"));
        Assert.Equal(["Model", "Environment"], config.GetValue("dimensions").GetArray()[1].GetArray().Select(v => v.GetString()));
        Assert.Equal("prod", config.GetString("dimension-values.Environment"));
        Assert.Equal("search", config.GetString("extra-properties.Team"));
        Assert.Equal("n/a", config.GetString("missing-dimension-value"));
        Assert.True(config.GetBoolean("merge.enabled"));
        Assert.Equal(TimeSpan.FromMilliseconds(75), config.GetTimeSpan("batch.max-delay"));
        Assert.Equal(TimeSpan.FromSeconds(3), config.GetTimeSpan("shutdown-timeout"));
        Assert.False(config.HasPath("emitters"));
    }

    [Fact]
    public void AddEmitter_extends_the_configured_emitters_list_and_marks_its_block_as_delegate()
    {
        var options = new TokenTelemetryOptions().AddEmitter("audit", _ => { }).AddEmitter("stdout-copy", new CollectingEmitter());
        var current = ConfigurationFactory.ParseString("akka.token-telemetry.emitters = [stdout, audit]").WithFallback(TokenTelemetry.DefaultConfig);

        var config = ConfigurationFactory.ParseString(options.ToHocon(current)).GetConfig("akka.token-telemetry");

        Assert.Equal(["stdout", "audit", "stdout-copy"], config.GetStringList("emitters"));
        Assert.Equal("delegate", config.GetString("emitter.audit.type"));
        Assert.Equal("delegate", config.GetString("emitter.stdout-copy.type"));
    }

    [Fact]
    public void The_three_overloads_configure_the_same_HOCON()
    {
        static string Rendered(Action<AkkaConfigurationBuilder> configure)
        {
            var builder = new AkkaConfigurationBuilder(new ServiceCollection(), "overloads");
            configure(builder);
            return builder.Configuration.Value.GetConfig("akka.token-telemetry").GetString("namespace");
        }

        Assert.Equal("Strands/AgentTokenUsage", Rendered(b => b.WithTokenTelemetry()));
        Assert.Equal("A/B", Rendered(b => b.WithTokenTelemetry(o => o.Namespace = "A/B")));
        Assert.Equal("A/B", Rendered(b => b.WithTokenTelemetry(new TokenTelemetryOptions { Namespace = "A/B" })));
    }
}
