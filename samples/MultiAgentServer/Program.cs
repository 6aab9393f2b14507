using AkkaTokenTelemetry;

// A few agents, each making a few model calls, report their token usage the way the seed does:
// EmfPayload.Build turns one call's usage into one CloudWatch EMF event, and EmfEmitters.Default
// prints it as one JSON line on stdout, where the CloudWatch agent (or Lambda) picks it up.
// EMF lines go to stdout; the human summary goes to stderr, so stdout stays pure EMF.

var agents = new (string Name, string Model)[]
{
    ("research-agent", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
    ("writer-agent", "gpt-4o-2024-08-06"),
    ("triage-agent", "us.amazon.nova-lite-v1:0"),
};

IReadOnlyList<IReadOnlyList<string>> dimensions = [["Model"], ["Model", "Agent"]];
var random = new Random(42);
var records = 0;
var tokensByModel = new SortedDictionary<string, long>(StringComparer.Ordinal);

for (var call = 0; call < 4; call++)
{
    foreach (var (name, model) in agents)
    {
        var input = random.Next(200, 4000);
        var output = random.Next(50, 1500);
        var usage = new Dictionary<string, long>
        {
            ["inputTokens"] = input,
            ["outputTokens"] = output,
            ["totalTokens"] = input + output,
            ["cacheReadInputTokens"] = random.Next(0, input / 2),
        };

        var payload = EmfPayload.Build(
            usage,
            "Strands/AgentTokenUsage",
            dimensions,
            new Dictionary<string, string> { ["Model"] = model, ["Agent"] = name },
            new Dictionary<string, object?> { ["SessionId"] = $"session-{name}-{call / 2}", ["Invocation"] = call });

        EmfEmitters.Default(payload);
        records++;
        tokensByModel[model] = tokensByModel.GetValueOrDefault(model) + input + output;
    }
}

Console.Error.WriteLine($"invocations: {records}, EMF records emitted: {records}, drops: 0");
foreach (var (model, tokens) in tokensByModel)
{
    Console.Error.WriteLine($"  {model}: {tokens} tokens");
}
