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
                """).WithFallback(TokenTelemetry.DefaultConfig);                     // reference.conf as fallback
            var system = ActorSystem.Create("agents", config);
            var hook = TokenTelemetry.Get(system).CreateHook();                        // starts the pipeline from HOCON
            var usage = new Dictionary<string, long> { ["inputTokens"] = 1523, ["outputTokens"] = 842 };
            hook.OnAfterInvocation(new AfterInvocationEvent { Agent = new() { Name = "research-agent" }, Result = new() { Usage = usage, Model = "gpt-4o" } });
            await system.Terminate();                                                  // CoordinatedShutdown drains the pipeline first
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

    [Fact]
    public void TheReadmeQuickStart_IsTheCodeThisTestRuns_AndAtMostTenLines()
    {
        var readme = File.ReadAllText(Path.Combine(SampleBuild.RepositoryRoot, "README.md"));
        var section = readme[readme.IndexOf("## Quick start", StringComparison.Ordinal)..];
        var block = section[(section.IndexOf("```csharp\n", StringComparison.Ordinal) + "```csharp\n".Length)..];
        block = block[..block.IndexOf("```", StringComparison.Ordinal)];
        var readmeCode = Lines(block).Where(l => !l.StartsWith("using ", StringComparison.Ordinal)).ToList();

        var source = File.ReadAllText(Path.Combine(SampleBuild.RepositoryRoot, "tests", "AkkaTokenTelemetry.Tests", "Samples", "ReadmeQuickStartTests.cs"));
        var marked = source[(source.IndexOf("// --- as in README.md ---", StringComparison.Ordinal) + "// --- as in README.md ---".Length)..];
        var testCode = Lines(marked[..marked.IndexOf("// --- end ---", StringComparison.Ordinal)]).ToList();

        Assert.Equal(testCode, readmeCode);
        Assert.InRange(readmeCode.Count, 5, 10); // "a 10-line quick start", usings aside

        static IEnumerable<string> Lines(string text) =>
            text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0);
    }
}
