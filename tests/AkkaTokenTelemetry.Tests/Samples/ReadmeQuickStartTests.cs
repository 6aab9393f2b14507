using Akka.Actor;
using Akka.Configuration;
using AkkaTokenTelemetry.Tests.Emitters;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Samples;

/// <summary>The README's quick start, as written, prints one valid EMF line.</summary>
[Collection(nameof(ConsoleTests))]
public class ReadmeQuickStartTests
{
    [Fact]
    public async Task QuickStart_PrintsOneValidLine()
    {
        var original = Console.Out;
        var captured = new StringWriter();
        Console.SetOut(captured);
        try
        {
            // --- as in README.md ---
            var config = ConfigurationFactory.ParseString("""
                akka { loglevel = WARNING, stdout-loglevel = OFF, loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"] }
                akka.token-telemetry.dimensions = [["Model"], ["Model", "Agent"]]
                """).WithFallback(TokenTelemetry.DefaultConfig);                       // reference.conf as fallback
            var system = ActorSystem.Create("agents", config);
            var hook = TokenTelemetry.Get(system).CreateHook();                          // starts the pipeline from HOCON
            hook.OnAfterInvocation(new AfterInvocationEvent                              // after every agent call
            {
                Agent = new AgentInfo { Name = "research-agent" },
                Result = new AgentResult { Usage = new Dictionary<string, long> { ["inputTokens"] = 1523, ["outputTokens"] = 842 }, Model = "gpt-4o" },
            });
            await system.Terminate();                                                    // CoordinatedShutdown drains the pipeline first
            // --- end ---
        }
        finally
        {
            Console.SetOut(original);
        }

        // Console.Out is process-wide: other tests' actor systems, running in parallel, may log there too. None of
        // the lines may come from this system's logging, and the rest must be exactly one valid EMF event.
        var lines = captured.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(lines, l => l.Contains("akka://agents", StringComparison.Ordinal) || l.Contains("ActorSystem(agents)", StringComparison.Ordinal));
        var e = Assert.Single(lines.Where(l => l.StartsWith('{')).Select(l => EmfAssert.ValidLine(l)));
        Assert.Equal(1523, e["inputTokens"]!.GetValue<long>());
        Assert.Equal("research-agent", e["Agent"]!.GetValue<string>());
        Assert.Equal("gpt-4o", e["Model"]!.GetValue<string>());
    }
}
