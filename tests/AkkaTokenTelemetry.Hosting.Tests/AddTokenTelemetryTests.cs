using Akka.Actor;
using AkkaTokenTelemetry.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace AkkaTokenTelemetry.Hosting.Tests;

/// <summary>What <c>services.AddTokenTelemetry()</c> registers, and what it leaves alone.</summary>
public sealed class AddTokenTelemetryTests
{
    [Fact]
    public void Calling_it_twice_registers_each_service_once()
    {
        var services = new ServiceCollection();

        services.AddTokenTelemetry().AddTokenTelemetry();

        Assert.Single(services, d => d.ServiceType == typeof(TokenTelemetry));
        Assert.Single(services, d => d.ServiceType == typeof(TokenUsageHook));
        Assert.All(services, d => Assert.Equal(ServiceLifetime.Singleton, d.Lifetime));
    }

    [Fact]
    public async Task A_hook_registered_before_is_the_one_resolved()
    {
        var system = ActorSystem.Create("own-hook", TokenTelemetry.DefaultConfig);
        try
        {
            var own = TokenTelemetry.Get(system).CreateHook(new TokenUsageHookOptions { Namespace = "Mine" });
            var services = new ServiceCollection().AddSingleton(system).AddSingleton(own);

            services.AddTokenTelemetry();
            await using var provider = services.BuildServiceProvider();

            Assert.Same(own, provider.GetRequiredService<TokenUsageHook>());
            Assert.Same(TokenTelemetry.Get(system), provider.GetRequiredService<TokenTelemetry>());
        }
        finally
        {
            await system.Terminate();
        }
    }
}
