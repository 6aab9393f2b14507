using System.Reflection;
using AkkaTokenTelemetry.Tests.Emitters;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Samples;

/// <summary>The README's first command runs this sample: every line it prints on stdout must be valid EMF.</summary>
[Collection(nameof(ConsoleTests))]
public class MultiAgentServerSampleTests
{
    [Fact]
    public async Task Sample_PrintsOnlyValidEmfLinesOnStdout_AndASummaryOnStderr()
    {
        var entryPoint = Assembly.Load("MultiAgentServer").EntryPoint!;
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (originalOut, originalError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            var result = entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            if (result is Task task)
            {
                await task;
            }
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }

        var events = EmfAssert.ValidLines(stdout.ToString());
        Assert.NotEmpty(events);
        Assert.Equal(stdout.ToString().Count(c => c == '\n'), events.Count);
        Assert.Contains($"EMF records emitted: {events.Count}", stderr.ToString());
        Assert.Contains("drops: 0", stderr.ToString());

        // The summary's token totals are the sums of what the EMF lines say.
        foreach (var group in events.GroupBy(e => e["Model"]!.GetValue<string>()))
        {
            var tokens = group.Sum(e => e["inputTokens"]!.GetValue<long>() + e["outputTokens"]!.GetValue<long>());
            Assert.Contains($"  {group.Key}: {tokens} tokens", stderr.ToString());
        }
    }
}
