using System.Reflection;
using AkkaTokenTelemetry.Tests.Emitters;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Samples;

/// <summary>The README's first command runs this sample: every line it prints on stdout must be valid EMF.</summary>
[Collection(nameof(ConsoleTests))]
public class MultiAgentServerSampleTests
{
    [Fact]
    public void Sample_PrintsOnlyValidEmfLinesOnStdout_AndASummaryOnStderr()
    {
        var entryPoint = Assembly.Load("MultiAgentServer").EntryPoint!;
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (originalOut, originalError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
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
    }
}
