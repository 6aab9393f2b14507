using Akka.Hosting;
using AkkaTokenTelemetry.Hosting.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AkkaTokenTelemetry.Hosting.Tests;

/// <summary>
/// <c>AddTokenTelemetry</c> promises that resolving <see cref="TokenTelemetry"/> or the <see cref="TokenUsageHook"/>
/// never waits for the host to start, and the hook promises it never blocks. These hosts are built and started by
/// hand (not by the TestKit, which starts its host before a test runs), so the hook is used before and while the
/// host starts; its records are not lost: they reach the emitter once the host is up, and nothing is dropped.
/// </summary>
public sealed class HookBeforeHostStartSpecs
{
    /// <summary>The most any single step may take here; a step that blocks on the host fails at this bound.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly CollectingEmitter _emitter = new();

    private IHost BuildHost(string name)
    {
        var builder = Host.CreateEmptyApplicationBuilder(settings: null);
        builder.Services.AddAkka(name, akka => akka
            .AddHocon("akka { loglevel = WARNING, stdout-loglevel = OFF }", HoconAddMode.Prepend)
            .WithTokenTelemetry(o =>
            {
                o.Emitters = [];
                o.Dimensions = [["Model", "Agent"]];
                o.BatchMaxDelay = TimeSpan.FromMilliseconds(50);
                o.AddEmitter("code", _emitter);
            }));
        builder.Services.AddTokenTelemetry();
        return builder.Build();
    }

    private static AfterInvocationEvent Invocation(string agent) => new()
    {
        Agent = new AgentInfo { Name = agent },
        Result = new AgentResult { Usage = new Dictionary<string, long> { ["inputTokens"] = 10, ["outputTokens"] = 5 }, Model = "gpt-4o" },
    };

    [Fact]
    public async Task A_hook_resolved_and_used_before_the_host_starts_never_blocks_and_its_records_are_delivered_once_it_has_started()
    {
        using var host = BuildHost("before-start");

        var hook = await Task.Run(() => host.Services.GetRequiredService<TokenUsageHook>()).WaitAsync(Bound);
        await Task.Run(() =>
        {
            hook.OnAfterInvocation(Invocation("early-1"));
            hook.OnAfterInvocation(Invocation("early-2"));
        }).WaitAsync(Bound);

        await host.StartAsync().WaitAsync(Bound);
        try
        {
            var telemetry = host.Services.GetRequiredService<TokenTelemetry>();
            await telemetry.FlushAsync().WaitAsync(Bound);

            Assert.Equal(["early-1", "early-2"], _emitter.Events.Select(e => e["Agent"]!.GetValue<string>()).Order(StringComparer.Ordinal));
            Assert.Equal(2, telemetry.Stats.RecordsReceived);
            Assert.Equal(0, telemetry.Stats.RecordsDroppedTotal);
        }
        finally
        {
            await host.StopAsync().WaitAsync(Bound);
        }
    }

    [Fact]
    public async Task A_hook_used_while_the_host_is_starting_never_blocks_and_none_of_its_records_is_lost()
    {
        const int Records = 200;
        using var host = BuildHost("while-starting");

        var starting = host.StartAsync();
        await Task.Run(() =>
        {
            var hook = host.Services.GetRequiredService<TokenUsageHook>();
            for (var i = 0; i < Records; i++)
            {
                hook.OnAfterInvocation(Invocation($"agent-{i}"));
            }
        }).WaitAsync(Bound);
        await starting.WaitAsync(Bound);
        try
        {
            var telemetry = host.Services.GetRequiredService<TokenTelemetry>();
            await telemetry.FlushAsync().WaitAsync(Bound);

            Assert.Equal(Records, _emitter.Events.Select(e => e["Agent"]!.GetValue<string>()).Distinct().Count());
            Assert.Equal(Records, telemetry.Stats.Emitters["code"].RecordsDelivered);
            Assert.Equal(0, telemetry.Stats.RecordsDroppedTotal);
        }
        finally
        {
            await host.StopAsync().WaitAsync(Bound);
        }
    }
}
