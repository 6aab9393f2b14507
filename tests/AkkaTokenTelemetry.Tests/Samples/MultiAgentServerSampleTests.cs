using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Samples;

/// <summary>
/// The README's first command runs this sample. It runs here as its own process, as a newcomer runs it, so nothing
/// else in the test run can write to its stdout: every line there must be valid EMF. Its summary's token totals come
/// from the script the loopback server answers from; the EMF lines must add up to exactly those.
/// </summary>
public partial class MultiAgentServerSampleTests
{
    [Fact]
    public async Task Sample_WithNoArguments_PrintsOnlyValidEmfLinesOnStdout_WhoseTokensAddUpToTheScript()
    {
        var run = await RunSampleAsync();

        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}; stderr: {run.Stderr}");
        var events = EmfAssert.ValidLines(run.Stdout);
        Assert.NotEmpty(events);
        Assert.Equal(run.Stdout.Count(c => c == '\n'), events.Count);
        Assert.Contains("12 agents, 480 invocations (0 failed)", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(480, events.Count); // one event per agent run, tool round trips included
        Assert.Contains($"EMF records emitted: {events.Count} (stdout)", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("drops: 0", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("warning:", run.Stderr, StringComparison.Ordinal);

        // The summary's totals (from the script) are the sums of what the EMF lines say, key by key.
        var summary = ParseSummary(run.Stderr);
        Assert.Equal(4, summary.Count);
        foreach (var group in events.GroupBy(e => e["Model"]!.GetValue<string>()))
        {
            Assert.True(summary.TryGetValue(group.Key, out var expected), $"the summary lists {group.Key}: {run.Stderr}");
            Assert.Equal(expected, Totals(group));
        }

        Assert.Equal(summary.Keys.Order(), events.Select(e => e["Model"]!.GetValue<string>()).Distinct().Order());

        // What the configuration and the hooks put on every event.
        Assert.All(events, e =>
        {
            Assert.Equal("dev", e["Environment"]!.GetValue<string>());
            Assert.Equal("multi-agent-server", e["Service"]!.GetValue<string>());
            Assert.StartsWith("session-", e["SessionId"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.EndsWith("-agent", e["Agent"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("""[["Model","Environment"],["Model","Agent","Environment"]]""", e["_aws"]!["CloudWatchMetrics"]![0]!["Dimensions"]!.ToJsonString());
        });
    }

    [Fact]
    public async Task Sample_WithTheMergeExampleConfig_WritesFewerLines_ThatStillAddUpToTheScript()
    {
        var config = Path.Combine(SampleBuild.RepositoryRoot, "hocon", "high-throughput-merge.conf");

        var run = await RunSampleAsync("--config", config, "--emitter", "stdout", "--agents", "4", "--invocations", "200");

        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}; stderr: {run.Stderr}");
        var events = EmfAssert.ValidLines(run.Stdout);
        Assert.InRange(events.Count, 1, 199); // records of one model and agent share an event
        Assert.Contains("EMF records emitted: 200 (stdout)", run.Stderr, StringComparison.Ordinal);
        Assert.Contains($"EMF lines built: {events.Count};", run.Stderr, StringComparison.Ordinal);
        var summary = ParseSummary(run.Stderr);
        foreach (var group in events.GroupBy(e => e["Model"]!.GetValue<string>()))
        {
            Assert.Equal(summary[group.Key], Totals(group));
        }
    }

    [Fact]
    public async Task Sample_WithAnUnknownEmitter_ExitsWith2_NamingTheOptionAndTheBlocksThereAre()
    {
        var run = await RunSampleAsync("--emitter", "kinesis");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal(string.Empty, run.Stdout);
        Assert.Contains("error: --emitter kinesis: no such emitter block", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("agent, null, stdout", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sample_WithAMissingConfigFile_ExitsWith2()
    {
        var run = await RunSampleAsync("--config", "no-such-file.conf");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal(string.Empty, run.Stdout);
        Assert.Contains("error: --config no-such-file.conf: no such file", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sample_WithAConfigThatBreaksAnEmfRule_ExitsWith2_QuotingTheSetting_BeforeAnyAgentRuns()
    {
        var file = Path.Combine(Path.GetTempPath(), $"bad-dimension-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(file, "akka.token-telemetry { dimensions = [[\"Model\"]], dimension-values { Environment = \"dev\" } }");
        try
        {
            var run = await RunSampleAsync("--config", file);

            Assert.Equal(2, run.ExitCode);
            Assert.Equal(string.Empty, run.Stdout);
            Assert.Contains("error: bad configuration:", run.Stderr, StringComparison.Ordinal);
            Assert.Contains("akka.token-telemetry.dimension-values.Environment", run.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", run.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("MultiAgentServer:", run.Stderr, StringComparison.Ordinal); // no summary: nothing ran
        }
        finally
        {
            File.Delete(file);
        }
    }

    private sealed record Tokens(long Runs, long Input, long Output, long CacheRead, long Reasoning);

    private static Task<ProcessRun> RunSampleAsync(params string[] args) =>
        SampleBuild.RunAsync(SampleBuild.Path("MultiAgentServer"), TimeSpan.FromMinutes(2), args);

    /// <summary>"  model: T tokens (input I, output O, cache read C, reasoning R; N runs)" lines of the summary.</summary>
    private static Dictionary<string, Tokens> ParseSummary(string stderr)
    {
        var totals = new Dictionary<string, Tokens>(StringComparer.Ordinal);
        foreach (Match m in SummaryLine().Matches(stderr))
        {
            long N(string group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
            var tokens = new Tokens(N("runs"), N("input"), N("output"), N("cache"), N("reasoning"));
            Assert.Equal(N("total"), tokens.Input + tokens.Output);
            totals.Add(m.Groups["model"].Value, tokens);
        }

        return totals;
    }

    /// <summary>Sums the events' values (numbers, or arrays of numbers in merge mode); runs = values of inputTokens.</summary>
    private static Tokens Totals(IEnumerable<JsonObject> events)
    {
        static (long Count, long Sum) Values(JsonNode? member) => member switch
        {
            JsonArray values => (values.Count, values.Sum(v => v!.GetValue<long>())),
            JsonValue value => (1, value.GetValue<long>()),
            _ => (0, 0),
        };

        long runs = 0, input = 0, output = 0, cache = 0, reasoning = 0;
        foreach (var e in events)
        {
            var (count, sum) = Values(e["inputTokens"]);
            runs += count;
            input += sum;
            output += Values(e["outputTokens"]).Sum;
            cache += Values(e["cacheReadInputTokens"]).Sum;
            reasoning += Values(e["reasoningTokens"]).Sum;
        }

        return new Tokens(runs, input, output, cache, reasoning);
    }

    [GeneratedRegex(@"^  (?<model>\S+): (?<total>\d+) tokens \(input (?<input>\d+), output (?<output>\d+), cache read (?<cache>\d+), reasoning (?<reasoning>\d+); (?<runs>\d+) runs\)\r?$", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();
}
