using System.Collections.Concurrent;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Emitters;

/// <summary>The file and logger emitters, and an emitter class named in HOCON.</summary>
public sealed class FileAndLoggerEmitterTests(ITestOutputHelper output) : TestKit(output: output), IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("emf-file-test-").FullName;

    void IDisposable.Dispose()
    {
        Directory.Delete(_directory, recursive: true);
        base.Dispose();
    }

    private static async Task SendAsync(TelemetrySystem t, int records, int start = 0)
    {
        var hook = t.Telemetry.CreateHook();
        for (var i = start; i < start + records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
    }

    [Fact]
    public async Task File_NEventsBecomeNValidLines_AppendedToACreatedFile()
    {
        var path = Path.Combine(_directory, "emf.log");
        await using (var t = TelemetrySystem.Start($"akka.token-telemetry {{ emitters = [file], emitter.file {{ type = file, path = \"{Escape(path)}\" }} }}"))
        {
            Assert.True(File.Exists(path), "the file is created when the pipeline starts");
            await SendAsync(t, 120);

            // Flushed per batch: the lines are in the file while the pipeline still runs.
            var lines = File.ReadAllLines(path);
            Assert.Equal(120, lines.Length);
            Assert.Equal(Enumerable.Range(0, 120).Select(i => (long)i), lines.Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).Order());
        }

        // A second run appends.
        await using (var t = TelemetrySystem.Start($"akka.token-telemetry {{ emitters = [file], emitter.file {{ type = file, path = \"{Escape(path)}\" }} }}"))
        {
            await SendAsync(t, 5, start: 1000);
        }

        Assert.Equal(125, File.ReadAllLines(path).Length);
    }

    [Fact]
    public async Task File_ThatEndsInAPartialLine_GetsANewlineFirst_SoNoEventIsJoinedOntoIt()
    {
        var path = Path.Combine(_directory, "partial.log");
        await File.WriteAllTextAsync(path, "{\"half\":");
        await using (var t = TelemetrySystem.Start($"akka.token-telemetry {{ emitters = [file], emitter.file {{ type = file, path = \"{Escape(path)}\" }} }}"))
        {
            await SendAsync(t, 3);
        }

        var lines = File.ReadAllLines(path);
        Assert.Equal("{\"half\":", lines[0]);
        Assert.Equal(3, lines.Skip(1).Count(l => EmfAssert.ValidLine(l) is not null));
    }

    [Fact]
    public async Task File_Rotation_KeepsTheConfiguredNumberOfFiles_AndNeverSplitsALine()
    {
        var path = Path.Combine(_directory, "rotating.log");
        await using var t = TelemetrySystem.Start($$"""
            akka.token-telemetry {
              emitters = [file]
              batch.max-records = 10
              emitter.file { type = file, path = "{{Escape(path)}}", max-file-size = 8KiB, keep-files = 2 }
            }
            """);

        // Each flush is a batch of 10 records (about 2.5 KB), so the file rotates every few waves.
        for (var wave = 0; wave < 20; wave++)
        {
            await SendAsync(t, 10, start: wave * 10);
        }

        var files = Directory.GetFiles(_directory).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(["rotating.log", "rotating.log.1", "rotating.log.2"], files);
        foreach (var file in files)
        {
            var full = Path.Combine(_directory, file);
            Assert.True(new FileInfo(full).Length <= 8 * 1024, $"{file} is {new FileInfo(full).Length} bytes");
            Assert.All(File.ReadAllLines(full), l => EmfAssert.ValidLine(l));
        }

        // The newest records are in the current file, and nothing kept is duplicated.
        var kept = files.SelectMany(f => File.ReadAllLines(Path.Combine(_directory, f))).Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(kept.Count, kept.Distinct().Count());
        Assert.Contains(199L, File.ReadAllLines(path).Select(l => EmfAssert.ValidLine(l)["seq"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Logger_WritesEachEventAsTheWholeMessage_AtTheConfiguredCategoryAndLevel()
    {
        var provider = new CollectingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Trace));
        await using var t = TelemetrySystem.Start(
            "akka.token-telemetry { emitters = [app-log], emitter.app-log { type = logger, category = \"Metrics.Emf\", level = Warning } }",
            new TokenTelemetrySetup().WithLoggerFactory(factory));
        await SendAsync(t, 30);

        Assert.Equal(30, provider.Entries.Count);
        Assert.All(provider.Entries, e =>
        {
            Assert.Equal(("Metrics.Emf", LogLevel.Warning, "EmfEvent"), (e.Category, e.Level, e.EventName));
            EmfAssert.ValidLine(e.Message);
        });
    }

    [Fact]
    public async Task CustomType_NamedInHocon_IsCreatedWithItsBlock_AndReceivesEveryBatch()
    {
        var key = Guid.NewGuid().ToString("N");
        await using var t = TelemetrySystem.Start($$"""
            akka.token-telemetry {
              emitters = [custom]
              emitter.custom {
                type = "AkkaTokenTelemetry.Tests.Emitters.ConfiguredTestEmitter, AkkaTokenTelemetry.Tests"
                target = "{{key}}"
              }
            }
            """);
        await SendAsync(t, 40);

        Assert.Equal(40, ConfiguredTestEmitter.Received(key).Count);
        Assert.All(ConfiguredTestEmitter.Received(key), l => EmfAssert.ValidLine(l));
    }

    private static string Escape(string path) => path.Replace("\\", "\\\\", StringComparison.Ordinal);

    private sealed class CollectingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string? EventName, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, LogLevel, string?, string)> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue((category, logLevel, eventId.Name, formatter(state, exception)));
        }
    }
}

/// <summary>An emitter class named in HOCON: its constructor takes its block, and it records lines under the block's <c>target</c>.</summary>
public sealed class ConfiguredTestEmitter(Config block) : IEmfEmitter
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<string>> Lines = new();

    private readonly ConcurrentQueue<string> _lines = Lines.GetOrAdd(block.GetString("target"), _ => new());

    public static IReadOnlyCollection<string> Received(string target) => Lines.GetValueOrDefault(target) ?? [];

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            _lines.Enqueue(batch.GetJson(i));
        }

        return ValueTask.CompletedTask;
    }
}
