// A multi-agent server in miniature. A generic host embeds the actor system (Akka.Hosting) with the token telemetry
// pipeline (WithTokenTelemetry), starts an OpenAI-compatible server on 127.0.0.1 that answers from a script, and
// runs many Microsoft Agent Framework agents at once through the real OpenAI client. Each agent is wrapped with
// UseTokenTelemetry, so every run's token usage becomes one CloudWatch EMF line: on stdout by default, where a log
// shipper, Lambda or the CloudWatch agent picks it up. stdout carries nothing else; the summary and every log line
// go to stderr. Run with --help for the options.

using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Hosting;
using AkkaTokenTelemetry;
using AkkaTokenTelemetry.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MultiAgentServer;

SampleOptions options;
Config config;
try
{
    options = SampleOptions.Parse(args);
    if (options.Help)
    {
        Console.Out.WriteLine(SampleOptions.Usage);
        return 0;
    }

    config = LoadConfig(options);
}
catch (Exception e) when (e is ArgumentException or ConfigurationException or IOException or UnauthorizedAccessException or FormatException || e.GetType().Namespace == "Hocon")
{
    // Bad options, an unreadable --config file, or HOCON the parser rejects.
    await Console.Error.WriteLineAsync($"error: {e.Message}\nRun with --help for the options.");
    return 2;
}

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "MultiAgentServer" });

// The console logger writes to stdout unless told otherwise: everything goes to stderr, from warnings up.
builder.Logging.ClearProviders();
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

var script = new Script(options.Agents, options.Invocations);
builder.Services.AddSingleton(script);
builder.Services.AddSingleton<LoopbackOpenAIServer>();
builder.Services.AddAkka("multi-agent-server", akka => akka
    .AddHocon(config, HoconAddMode.Prepend)
    .ConfigureLoggers(loggers =>
    {
        // Akka's log goes through Microsoft.Extensions.Logging (so: stderr), not to stdout.
        loggers.LogLevel = Akka.Event.LogLevel.WarningLevel;
        loggers.ClearLoggers();
        loggers.AddLoggerFactory();
    })
    .WithTokenTelemetry());                    // the pipeline, configured by the HOCON above
builder.Services.AddTokenTelemetry();           // TokenTelemetry (and a default hook) from the service provider
builder.Services.AddSingleton<AgentFleet>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AgentFleet>());

using var host = builder.Build();
try
{
    // Resolving the fleet starts the actor system and reads the telemetry settings: a setting that breaks an EMF
    // rule (a namespace with a '%', a dimension value whose key is in no set) fails here, before any agent runs.
    var fleet = host.Services.GetRequiredService<AgentFleet>();
    await host.RunAsync();                      // until the fleet has finished and stops the host
    return fleet.ExitCode;
}
catch (Exception e) when (e is ConfigurationException or EmfValidationException)
{
    await Console.Error.WriteLineAsync($"error: bad configuration: {e.Message}\nRun with --help for the options.");
    return 2;
}

// The embedded hocon/multi-agent-server.conf, or the --config file instead; --emitter replaces the emitters list.
static Config LoadConfig(SampleOptions options)
{
    string text;
    if (options.ConfigFile is { } file)
    {
        text = File.ReadAllText(file);
    }
    else
    {
        using var stream = typeof(Script).Assembly.GetManifestResourceStream("MultiAgentServer.multi-agent-server.conf")!;
        using var reader = new StreamReader(stream);
        text = reader.ReadToEnd();
    }

    var config = ConfigurationFactory.ParseString(text);
    if (options.Emitter is not { } emitter)
    {
        return config;
    }

    var blocks = config.WithFallback(TokenTelemetry.DefaultConfig).GetConfig("akka.token-telemetry.emitter")
        .Root.GetObject().Items.Keys.Where(k => k != "defaults").Order(StringComparer.Ordinal).ToList();
    if (!Regex.IsMatch(emitter, "^[A-Za-z0-9_-]+$") || !blocks.Contains(emitter))
    {
        throw new ArgumentException($"--emitter {emitter}: no such emitter block under akka.token-telemetry.emitter; the configuration has: {string.Join(", ", blocks)}");
    }

    return ConfigurationFactory.ParseString($"akka.token-telemetry.emitters = [\"{emitter}\"]").WithFallback(config);
}
