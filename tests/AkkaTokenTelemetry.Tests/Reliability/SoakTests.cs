using System.Diagnostics;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Reliability;

/// <summary>
/// The 20-second version of the soak (the 10-minute one runs by hand, see benchmarks/README.md): the benchmarks'
/// <c>soak</c> command, as its own process, through a real TCP listener that stops reading half the time.
/// </summary>
public class SoakTests
{
    [Fact]
    public async Task TwentySecondSoak_WithTheAgentPausedHalfTheTime_NoMalformedLine_AndEveryRecordAccountedFor()
    {
        var benchmarks = SampleBuild.BenchmarksPath();
        Assert.True(File.Exists(benchmarks), $"the benchmarks are built (a project reference of the tests): {benchmarks}");
        var start = new ProcessStartInfo("dotnet", ["exec", benchmarks, "soak", "--seconds", "20", "--rate", "5000"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        using var process = Process.Start(start)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var stderrTask = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);
        var (stdout, stderr) = (await stdoutTask, await stderrTask);

        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}; stdout: {stdout}; stderr: {stderr}");
        var summary = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!.AsObject();
        long Value(string name) => summary[name]!.GetValue<long>();

        Assert.Equal(0, Value("malformed_lines"));
        Assert.Equal(0, Value("unaccounted"));
        Assert.True(Value("sent") >= 90_000, $"sent {Value("sent")} at 5,000/s for 20 s");

        // A single healthy emitter only waits while the agent is paused: everything sent is delivered, and
        // arrives (at least once) at the listener.
        Assert.Equal(Value("sent"), Value("delivered"));
        Assert.Equal(Value("sent"), Value("distinct_records_received"));
        Assert.True(summary["flush_completed"]!.GetValue<bool>());
    }
}
