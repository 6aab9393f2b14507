using Akka.Actor;
using Akka.Configuration;
using AkkaTokenTelemetry;

// Several agents call their models concurrently and report each call's token usage to a TokenUsageHook. The
// hook never blocks them: the Akka.NET pipeline resolves the dimensions, writes CloudWatch EMF and prints one JSON
// line per call on stdout, where the CloudWatch agent (or Lambda) picks it up. The human summary goes to stderr,
// so stdout stays pure EMF.

const int AgentsPerModel = 2;
const int CallsPerAgent = 5;

var config = ConfigurationFactory.ParseString("""
    akka.loglevel = WARNING
    akka.loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"]   # stdout stays pure EMF
    akka.stdout-loglevel = OFF                                                     # also while Akka starts and stops
    akka.token-telemetry {
      namespace = "Strands/AgentTokenUsage"
      dimensions = [["Model"], ["Model", "Agent"]]
      emitters = [stdout]
    }
    """).WithFallback(TokenTelemetry.DefaultConfig);

using var system = ActorSystem.Create("multi-agent-server", config);
var telemetry = TokenTelemetry.Get(system);

var models = new[] { "us.anthropic.claude-sonnet-4-20250514-v1:0", "gpt-4o-2024-08-06", "us.amazon.nova-lite-v1:0" };
var roles = new[] { "research-agent", "writer-agent" };
var expectedTokens = new Dictionary<string, long>(StringComparer.Ordinal);
var agents = new List<Task>();

for (var m = 0; m < models.Length; m++)
{
    var model = models[m];
    for (var a = 0; a < AgentsPerModel; a++)
    {
        var name = roles[a % roles.Length];
        var session = $"session-{model.Split('.', '-')[0]}-{a}";
        var hook = telemetry.CreateHook(new TokenUsageHookOptions
        {
            ExtraProperties = new Dictionary<string, object?> { ["SessionId"] = session },
        });

        // Scripted, varied usage: the same seed per agent, so every run prints the same counts.
        var random = new Random((m * AgentsPerModel) + a);
        var calls = new List<Dictionary<string, long>>();
        for (var call = 0; call < CallsPerAgent; call++)
        {
            var input = random.Next(200, 4000);
            var output = random.Next(50, 1500);
            calls.Add(new Dictionary<string, long>
            {
                ["inputTokens"] = input,
                ["outputTokens"] = output,
                ["totalTokens"] = input + output,
                ["cacheReadInputTokens"] = random.Next(0, input / 2),
            });
            expectedTokens[model] = expectedTokens.GetValueOrDefault(model) + input + output;
        }

        agents.Add(Task.Run(() =>
        {
            foreach (var usage in calls)
            {
                hook.OnAfterInvocation(new AfterInvocationEvent
                {
                    Agent = new AgentInfo { Name = name, ProviderName = "loopback" },
                    Result = new AgentResult { Usage = usage, Model = model },
                });
            }
        }));
    }
}

await Task.WhenAll(agents);
await telemetry.FlushAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);

var stats = telemetry.Stats;
var invocations = models.Length * AgentsPerModel * CallsPerAgent;
Console.Error.WriteLine($"invocations: {invocations}, EMF records emitted: {stats.Emitters["stdout"].RecordsDelivered}, drops: {stats.RecordsDroppedTotal + stats.Emitters["stdout"].RecordsDroppedTotal}");
foreach (var (model, tokens) in expectedTokens.OrderBy(p => p.Key, StringComparer.Ordinal))
{
    Console.Error.WriteLine($"  {model}: {tokens} tokens (input + output)");
}

await system.Terminate();
