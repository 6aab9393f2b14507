using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using AkkaTokenTelemetry;
using AkkaTokenTelemetry.Extensions.AI;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;
using OpenAI;

namespace MultiAgentServer;

/// <summary>
/// Runs the scripted workload: every agent of the <see cref="Script"/> at once, each running its share of the
/// tasks one after another through the real OpenAI client, then flushes the telemetry, writes the summary to
/// stderr and stops the host.
/// </summary>
internal sealed class AgentFleet(
    Script script,
    LoopbackOpenAIServer server,
    ActorSystem system,
    TokenTelemetry telemetry,
    IHostApplicationLifetime lifetime) : BackgroundService
{
    private int _toolCalls;
    private int _failed;

    /// <summary>What <c>Main</c> returns: 0 when every run succeeded and every record was delivered.</summary>
    public int ExitCode { get; private set; } = 1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var started = Stopwatch.GetTimestamp();
            var openAI = new OpenAIClient(
                new ApiKeyCredential("loopback-key"),
                new OpenAIClientOptions
                {
                    Endpoint = server.Endpoint,
                    RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // a retried call would be served (and counted) twice
                });
            await Task.WhenAll(script.Agents.Select(profile => RunAgentAsync(openAI, profile, stoppingToken))).ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started);

            // Everything the hooks accepted so far reaches the emitters (or is dropped and counted) before the
            // summary reads the counters. Bounded: an unreachable CloudWatch agent must not hang the sample.
            var flushed = true;
            using (var flush = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                flush.CancelAfter(TimeSpan.FromSeconds(30));
                try
                {
                    await telemetry.FlushAsync(flush.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    flushed = false;
                }
            }

            ExitCode = WriteSummary(elapsed, flushed);
        }
#pragma warning disable CA1031 // reported on stderr; the exit code says it failed
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
        }
#pragma warning restore CA1031
        finally
        {
            lifetime.StopApplication();
        }
    }

    private async Task RunAgentAsync(OpenAIClient openAI, AgentProfile profile, CancellationToken cancellationToken)
    {
        // One hook per agent session: the SessionId travels as an extra property of every event, beside the
        // HOCON extra-properties; Model, Agent and Provider are filled in from each run automatically.
        var hook = telemetry.CreateHook(new TokenUsageHookOptions
        {
            ExtraProperties = new Dictionary<string, object?> { ["SessionId"] = profile.SessionId },
        });

        var tool = AIFunctionFactory.Create(
            (string query) =>
            {
                Interlocked.Increment(ref _toolCalls);
                return $"3 documents match \"{query}\".";
            },
            "search_knowledge_base",
            "Searches the team's knowledge base and returns the matching documents.");

        // ChatClientAgent runs the tool round trips itself (function invocation inside the agent); the telemetry
        // sits outside it, on the agent: one event per run, with the usage summed over the run's model calls.
        AIAgent agent = openAI
            .GetChatClient(profile.RequestedModel)
            .AsIChatClient()
            .AsAIAgent(instructions: "You are one agent of a team. Use the knowledge base when it helps.", name: profile.Name, tools: [tool])
            .AsBuilder()
            .UseTokenTelemetry(hook)
            .Build();

        foreach (var task in script.TasksOf(profile))
        {
            var prompt = Script.Prompt(task);
            try
            {
                if (Script.Turn(task, profile.ServedModel).Streaming)
                {
                    await foreach (var update in agent.RunStreamingAsync(prompt, cancellationToken: cancellationToken).ConfigureAwait(false))
                    {
                        _ = update.Text; // a real server would forward each update to its client here
                    }
                }
                else
                {
                    await agent.RunAsync(prompt, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }
#pragma warning disable CA1031 // one failed run is reported and counted; the other runs go on
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
            {
                if (Interlocked.Increment(ref _failed) <= 3)
                {
                    await Console.Error.WriteLineAsync($"{profile.Name} task {task} failed: {e.Message}").ConfigureAwait(false);
                }
            }
        }
    }

    private int WriteSummary(TimeSpan elapsed, bool flushed)
    {
        var stats = telemetry.Stats;
        var emitters = system.Settings.Config.GetStringList("akka.token-telemetry.emitters").Select(n => n ?? "null").ToList();
        var expected = script.ExpectedTotals();
        var drops = stats.RecordsDropped.Concat(stats.Emitters.Values.SelectMany(e => e.RecordsDropped))
            .GroupBy(d => d.Key, StringComparer.Ordinal)
            .Select(g => (Reason: g.Key, Count: g.Sum(d => d.Value)))
            .Where(d => d.Count > 0)
            .ToList();
        var dropped = drops.Sum(d => d.Count);
        var failed = Volatile.Read(ref _failed);
        var toolCalls = Volatile.Read(ref _toolCalls);
        var expectedToolCalls = script.ExpectedToolCalls();

        var w = Console.Error;
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            MultiAgentServer: {script.Agents.Count} agents, {script.Invocations} invocations ({failed} failed), {toolCalls} tool calls, {server.Requests} model calls, {elapsed.TotalSeconds:F1} s
            EMF records emitted: {string.Join(", ", emitters.Select(e => $"{stats.Emitters[e].RecordsDelivered} ({e})"))}; EMF lines built: {stats.EventsWritten}; drops: {dropped}{(drops.Count > 0 ? " (" + string.Join(", ", drops.Select(d => $"{d.Reason}: {d.Count}")) + ")" : string.Empty)}
            tokens per model (input + output), as scripted:
            """));
        foreach (var (model, t) in expected)
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {model}: {t.Tokens} tokens (input {t.Input}, output {t.Output}, cache read {t.CacheRead}, reasoning {t.Reasoning}; {t.Runs} runs)"));
        }

        var problems = new List<string>();
        if (failed > 0)
        {
            problems.Add($"{failed} agent runs failed");
        }

        if (toolCalls != expectedToolCalls)
        {
            problems.Add($"{toolCalls} tool calls, the script has {expectedToolCalls}");
        }

        if (!flushed)
        {
            problems.Add("the flush did not finish within 30 s: is the emitter's destination reachable?");
        }

        if (dropped > 0)
        {
            problems.Add($"{dropped} records dropped (see telemetry.Stats and the warnings above)");
        }

        foreach (var problem in problems)
        {
            w.WriteLine($"warning: {problem}");
        }

        return problems.Count == 0 ? 0 : 1;
    }
}
