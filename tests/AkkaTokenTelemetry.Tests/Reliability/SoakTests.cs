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
        var run = await SampleBuild.RunAsync(SampleBuild.BenchmarksPath(), TimeSpan.FromMinutes(3), "soak", "--seconds", "20", "--rate", "5000");
        var (stdout, stderr) = (run.Stdout, run.Stderr);

        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}; stdout: {stdout}; stderr: {stderr}");
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
