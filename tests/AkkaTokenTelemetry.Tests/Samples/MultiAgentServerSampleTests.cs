using System.Diagnostics;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Samples;

/// <summary>
/// The README's first command runs this sample. It runs here as its own process, as a newcomer runs it, so nothing
/// else in the test run can write to its stdout: every line there must be valid EMF.
/// </summary>
public class MultiAgentServerSampleTests
{
    [Fact]
    public async Task Sample_PrintsOnlyValidEmfLinesOnStdout_AndASummaryOnStderr()
    {
        var sample = SampleBuild.Path("MultiAgentServer");
        Assert.True(File.Exists(sample), $"the sample is built (a project reference of the tests): {sample}");
        var start = new ProcessStartInfo("dotnet", ["exec", sample])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        using var process = Process.Start(start)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var stderrTask = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token);
        var (stdout, stderr) = (await stdoutTask, await stderrTask);

        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}; stderr: {stderr}");
        var events = EmfAssert.ValidLines(stdout);
        Assert.NotEmpty(events);
        Assert.Equal(stdout.Count(c => c == '\n'), events.Count);
        Assert.Contains($"EMF records emitted: {events.Count}", stderr);
        Assert.Contains("drops: 0", stderr);

        // The summary's token totals are the sums of what the EMF lines say.
        foreach (var group in events.GroupBy(e => e["Model"]!.GetValue<string>()))
        {
            var tokens = group.Sum(e => e["inputTokens"]!.GetValue<long>() + e["outputTokens"]!.GetValue<long>());
            Assert.Contains($"  {group.Key}: {tokens} tokens", stderr);
        }
    }
}
