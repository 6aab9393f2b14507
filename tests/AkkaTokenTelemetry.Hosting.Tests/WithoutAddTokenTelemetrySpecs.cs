using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using AkkaTokenTelemetry.Extensions.AI;
using AkkaTokenTelemetry.Extensions.AI.Tests.Support;
using AkkaTokenTelemetry.Hosting.Tests.Support;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry.Hosting.Tests;

/// <summary>
/// A host built with <c>AddAkka(… WithTokenTelemetry(…))</c> alone, without <c>services.AddTokenTelemetry()</c>. The
/// README says Akka.Hosting does not let <c>WithTokenTelemetry</c> register services, so the container holds no
/// <see cref="TokenTelemetry"/> or <see cref="TokenUsageHook"/> of its own; what it promises still works: the pipeline
/// starts with the actor system, its router is in the <see cref="ActorRegistry"/>, and <c>UseTokenTelemetry()</c> takes
/// its hook from the host's <see cref="ActorSystem"/>, with <see cref="TokenTelemetryOptions.Hook"/>'s options.
/// </summary>
public sealed class WithoutAddTokenTelemetrySpecs(ITestOutputHelper output)
    : Akka.Hosting.TestKit.TestKit("hosting-without-di", output, logLevel: LogLevel.Warning)
{
    private readonly CollectingEmitter _codeEmitter = new();

    protected override Config Config => ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        """);

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) =>
        builder.WithTokenTelemetry(o =>
        {
            o.Emitters = [];
            o.Dimensions = [["Model", "Agent"]];
            o.BatchMaxDelay = TimeSpan.FromMilliseconds(50);
            o.AddEmitter("code", _codeEmitter);
            o.Hook = new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Service"] = "no-di" } };
        });

    [Fact]
    public async Task The_pipeline_starts_with_the_host_and_its_router_is_in_the_registry_but_the_container_holds_no_telemetry_services()
    {
        var system = Host.Services.GetRequiredService<ActorSystem>();
        var telemetry = TokenTelemetry.Get(system);

        Assert.Same(Sys, system);
        Assert.Equal(telemetry.Router, ActorRegistry.Get<TokenTelemetry>());
        Assert.Equal(telemetry.Router, await Host.Services.GetRequiredService<IRequiredActor<TokenTelemetry>>().GetAsync());
        Assert.Contains("code", telemetry.Stats.Emitters.Keys); // the options were applied: the code emitter added…
        Assert.DoesNotContain("stdout", telemetry.Stats.Emitters.Keys); // …and HOCON's [stdout] replaced
        // As the README says: only services.AddTokenTelemetry() registers these two. Should Akka.Hosting ever let
        // WithTokenTelemetry register them, this fails, and the README's Akka.Hosting section must change with it.
        Assert.Null(Host.Services.GetService<TokenTelemetry>());
        Assert.Null(Host.Services.GetService<TokenUsageHook>());
    }

    [Fact]
    public async Task UseTokenTelemetry_without_a_hook_takes_it_from_the_host_actor_system_with_the_Hook_options()
    {
        await using var server = new LoopbackOpenAIServer();
        var chat = server.CreateChatClient().AsBuilder().UseTokenTelemetry(agentName: "chat").Build(Host.Services);
        var agent = server.CreateChatClient().AsAIAgent(name: "planner").AsBuilder().UseTokenTelemetry().Build(Host.Services);

        await chat.GetResponseAsync("hi");
        await agent.RunAsync("hi");
        await TokenTelemetry.Get(Sys).FlushAsync();

        Assert.Equal(["chat", "planner"], _codeEmitter.Events.Select(e => e["Agent"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All(_codeEmitter.Events, e =>
        {
            Assert.Equal("no-di", e["Service"]!.GetValue<string>()); // WithTokenTelemetry's Hook options reached this hook
            Assert.Equal(LoopbackOpenAIServer.Model, e["Model"]!.GetValue<string>());
        });
    }
}
