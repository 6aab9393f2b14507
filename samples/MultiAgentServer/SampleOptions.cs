using System.Globalization;

namespace MultiAgentServer;

/// <summary>The sample's command line. Every option is optional; without any, the sample runs with its defaults.</summary>
internal sealed class SampleOptions
{
    public const int DefaultAgents = 12;

    public const int DefaultInvocations = 480;

    public static readonly string Usage = $"""
        Usage: dotnet run --project samples/MultiAgentServer [-- OPTIONS]

        Runs concurrent Microsoft Agent Framework agents against a loopback OpenAI-compatible server and records
        every agent run's token usage as CloudWatch EMF. EMF goes where the configured emitters send it (stdout by
        default); a summary goes to stderr.

        Options:
          --agents N         concurrent agents (default {DefaultAgents})
          --invocations N    agent runs in total, shared among the agents (default {DefaultInvocations})
          --emitter NAME     the emitter block to use instead of the configured list: stdout, agent, null, or any
                             block under akka.token-telemetry.emitter in the configuration
          --config FILE      a HOCON file replacing the embedded hocon/multi-agent-server.conf
                             (e.g. hocon/cloudwatch-agent-tcp.conf); reference.conf stays the fallback
          -h, --help         this text
        """;

    public int Agents { get; private init; } = DefaultAgents;

    public int Invocations { get; private init; } = DefaultInvocations;

    public string? Emitter { get; private init; }

    public string? ConfigFile { get; private init; }

    public bool Help { get; private init; }

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static SampleOptions Parse(IReadOnlyList<string> args)
    {
        var agents = DefaultAgents;
        var invocations = DefaultInvocations;
        string? emitter = null;
        string? config = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "-h" or "--help":
                    return new SampleOptions { Help = true };
                case "--agents":
                    agents = Number(arg, Value(args, ref i), 1, 1_000);
                    break;
                case "--invocations":
                    invocations = Number(arg, Value(args, ref i), 1, 1_000_000);
                    break;
                case "--emitter":
                    emitter = Value(args, ref i);
                    break;
                case "--config":
                    config = Value(args, ref i);
                    if (!File.Exists(config))
                    {
                        throw new ArgumentException($"--config {config}: no such file (relative paths start from {Environment.CurrentDirectory})");
                    }

                    break;
                default:
                    throw new ArgumentException($"unknown option '{arg}'");
            }
        }

        return new SampleOptions { Agents = agents, Invocations = invocations, Emitter = emitter, ConfigFile = config };
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{args[i]} needs a value");
        }

        return args[++i];
    }

    private static int Number(string option, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"{option} {value}: expected a whole number from {min} to {max}");
}
