namespace MultiAgentServer;

/// <summary>One model call's usage, as the server reports it (OpenAI's prompt/completion tokens and their details).</summary>
/// <param name="Prompt">prompt_tokens (includes the cached ones).</param>
/// <param name="Completion">completion_tokens (includes the reasoning ones).</param>
/// <param name="Cached">prompt_tokens_details.cached_tokens.</param>
/// <param name="Reasoning">completion_tokens_details.reasoning_tokens.</param>
internal readonly record struct CallUsage(int Prompt, int Completion, int Cached, int Reasoning);

/// <summary>
/// One agent run: an optional tool-call round trip (the model asks for the tool, the agent runs it and calls the
/// model again), then the answer.
/// </summary>
internal sealed record ScriptedTurn(int Task, CallUsage? ToolCall, CallUsage Answer, bool Streaming)
{
    public IEnumerable<CallUsage> Calls => ToolCall is { } tool ? [tool, Answer] : [Answer];
}

/// <summary>An agent of the fleet: its name (the <c>Agent</c> dimension), the model it asks for, and the dated model id the server answers with.</summary>
internal sealed record AgentProfile(int Index, string Name, string RequestedModel, string ServedModel, string SessionId);

/// <summary>Token totals of one model.</summary>
internal sealed record ModelTotals(long Input, long Output, long CacheRead, long Reasoning, int Runs)
{
    public long Tokens => Input + Output;
}

/// <summary>
/// The scripted workload, deterministic: the same options give the same agents, turns and usage on every run.
/// The loopback server answers from it, and the summary's expected totals are computed from it — never from the
/// telemetry.
/// </summary>
internal sealed class Script
{
    /// <summary>The models agents ask for, and the dated ids the server answers with (as OpenAI does).</summary>
    public static readonly IReadOnlyList<(string Requested, string Served)> Models =
    [
        ("gpt-4o", "gpt-4o-2024-08-06"),
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("o3-mini", "o3-mini-2025-01-31"),
        ("gpt-4.1", "gpt-4.1-2025-04-14"),
    ];

    public static readonly IReadOnlyList<string> AgentNames = ["research-agent", "writer-agent", "support-agent", "planner-agent", "reviewer-agent"];

    public Script(int agents, int invocations)
    {
        Invocations = invocations;
        Agents = Enumerable.Range(0, agents).Select(i =>
        {
            var (requested, served) = Models[(i + (i / AgentNames.Count)) % Models.Count];
            return new AgentProfile(i, AgentNames[i % AgentNames.Count], requested, served, $"session-{i + 1:D4}");
        }).ToList();
    }

    public IReadOnlyList<AgentProfile> Agents { get; }

    public int Invocations { get; }

    /// <summary>Which agent runs task <paramref name="task"/> (tasks are dealt out in turn).</summary>
    public AgentProfile AgentOf(int task) => Agents[task % Agents.Count];

    /// <summary>The tasks one agent runs, in order.</summary>
    public IEnumerable<int> TasksOf(AgentProfile agent)
    {
        for (var task = agent.Index; task < Invocations; task += Agents.Count)
        {
            yield return task;
        }
    }

    /// <summary>The user message of a task; the server finds the task number in it.</summary>
    public static string Prompt(int task) => $"[task {task}] {Topics[task % Topics.Length]}";

    /// <summary>The scripted turn of a task: about one run in five calls the tool, one in four streams.</summary>
    public static ScriptedTurn Turn(int task, string servedModel)
    {
        var random = new Random(task);
        var reasoning = servedModel.StartsWith("o3", StringComparison.Ordinal);
        CallUsage? tool = null;
        var prompt = random.Next(600, 6000);
        if (random.Next(5) == 0)
        {
            tool = Call(random, prompt, random.Next(15, 60), reasoning);
            prompt += random.Next(200, 1500); // the tool's result joins the conversation
        }

        return new ScriptedTurn(task, tool, Call(random, prompt, random.Next(60, 900), reasoning), task % 4 == 3);
    }

    /// <summary>What the telemetry should report per served model, summed over every scripted call.</summary>
    public IReadOnlyDictionary<string, ModelTotals> ExpectedTotals()
    {
        var totals = new SortedDictionary<string, ModelTotals>(StringComparer.Ordinal);
        for (var task = 0; task < Invocations; task++)
        {
            var model = AgentOf(task).ServedModel;
            var sum = totals.GetValueOrDefault(model) ?? new ModelTotals(0, 0, 0, 0, 0);
            foreach (var call in Turn(task, model).Calls)
            {
                sum = sum with
                {
                    Input = sum.Input + call.Prompt,
                    Output = sum.Output + call.Completion,
                    CacheRead = sum.CacheRead + call.Cached,
                    Reasoning = sum.Reasoning + call.Reasoning,
                };
            }

            totals[model] = sum with { Runs = sum.Runs + 1 };
        }

        return totals;
    }

    /// <summary>How many runs call the tool.</summary>
    public int ExpectedToolCalls() =>
        Enumerable.Range(0, Invocations).Count(task => Turn(task, AgentOf(task).ServedModel).ToolCall is not null);

    private static CallUsage Call(Random random, int prompt, int completion, bool reasoning)
    {
        // Prompt caching works in 128-token steps past the first 1024 tokens; about half the calls hit it.
        var cached = prompt >= 1024 && random.Next(2) == 0 ? ((prompt - 1024) / 128 * 128) + 1024 - (128 * random.Next(0, 4)) : 0;
        var reasoningTokens = reasoning ? completion * random.Next(30, 80) / 100 : 0;
        return new CallUsage(prompt, completion, Math.Max(0, cached), reasoningTokens);
    }

    private static readonly string[] Topics =
    [
        "Summarise the open support tickets about billing.",
        "Draft release notes for the new search feature.",
        "Which regions had the highest latency last week?",
        "Plan the migration of the reporting database.",
        "Review this pull request for security issues.",
        "Find the contract terms about data retention.",
    ];
}
