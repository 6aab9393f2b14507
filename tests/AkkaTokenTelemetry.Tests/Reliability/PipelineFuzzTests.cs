using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;
using CsCheck;

namespace AkkaTokenTelemetry.Tests.Reliability;

/// <summary>
/// Random input of every kind through the whole pipeline (hooks, router, batching, a code emitter and a file
/// emitter): the hook never throws, every line written is valid EMF, and every valid usage value appears exactly
/// once — each invalid one, and each record left without any, is counted as dropped with its reason.
/// </summary>
public sealed class PipelineFuzzTests : IAsyncLifetime
{
    private const string CaseProperty = "FuzzCase";
    private static readonly string[] DimensionPool = ["Model", "Agent", "Provider", "Environment", "Tenant", "Region"];

    private readonly string _directory = Directory.CreateTempSubdirectory("emf-fuzz-").FullName;
    private readonly RawCollector _collector = new();
    private TelemetrySystem _system = null!;
    private int _nextCase;

    public Task InitializeAsync()
    {
        _system = TelemetrySystem.Start(
            $$"""
            akka.token-telemetry {
              emitters = [collect, file]
              emitter.collect.type = delegate
              emitter.file { type = file, path = "{{Path.Combine(_directory, "fuzz.log").Replace("\\", "\\\\", StringComparison.Ordinal)}}" }
            }
            """,
            new TokenTelemetrySetup().WithEmitter("collect", _collector));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _system.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>A usage key: valid names (ASCII, Unicode, dots, spaces) and invalid ones (empty, too long, reserved).</summary>
    private static readonly Gen<string> UsageKey = Gen.Frequency(
        (6, Gen.OneOf(Gen.Const("inputTokens"), Gen.Const("outputTokens"), Gen.Const("totalTokens"), Gen.Const("cacheReadInputTokens"))),
        (6, EmfGen.UnicodeText(1, 20)),
        (3, Gen.String[Gen.Char["ab. "], 1, 12]),
        (2, Gen.OneOf(DimensionPool.Select(Gen.Const).ToArray())),
        (1, Gen.Const(string.Empty)),
        (1, Gen.Const("_aws")),
        (1, Gen.String[Gen.Char['a', 'z'], 256, 300]))
        .Where(k => k != CaseProperty);

    private static readonly Gen<long> UsageValue = Gen.Frequency(
        (8, Gen.Long[0, 1L << 53]),
        (2, Gen.Long[0, 10_000]),
        (1, Gen.Long[long.MinValue, -1]));

    /// <summary>A run-time string (resolver output, model or agent name): empty, huge, control characters, non-ASCII.</summary>
    private static readonly Gen<string?> RuntimeText = Gen.Frequency(
        (6, EmfGen.PrintableAscii.Select(s => (string?)s)),
        (2, EmfGen.AnyText(0, 30).Select(s => (string?)s)),
        (1, Gen.Const((string?)string.Empty)),
        (1, Gen.Const((string?)null)),
        (1, Gen.String[Gen.Char['x', 'z'], 2000, 2000].Select(s => (string?)s)),
        (1, Gen.Const((string?)"tab\tnew\nline\u0007")));

    private static readonly Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?> ReturnsNull = _ => null;
    private static readonly Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?> Throws = _ => throw new InvalidOperationException("resolver failed");

    private static readonly Gen<Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>?> Resolver = Gen.Frequency(
        (3, Gen.Bool.Select(_ => (Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>?)null)),
        (1, Gen.Bool.Select(_ => (Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>?)ReturnsNull)),
        (1, Gen.Bool.Select(_ => (Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>?)Throws)),
        (3, Gen.Dictionary(Gen.OneOf(DimensionPool.Append("Undeclared").Select(Gen.Const).ToArray()), RuntimeText.Select(s => s ?? string.Empty))[0, 4]
            .Select(d => (Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>?)(_ => d))));

    private static readonly Gen<object?> PropertyValue = Gen.Frequency(
        (8, EmfGen.PropertyValue),
        (1, Gen.Int[10_000, 300_000].Select(n => (object?)new string('p', n))));

    /// <summary>Extra property names: ordinary, or colliding with usage keys, dimension keys and _aws.</summary>
    private static readonly Gen<string> PropertyName = Gen.Frequency(
        (6, EmfGen.UnicodeText(1, 12)),
        (2, Gen.OneOf(Gen.Const("inputTokens"), Gen.Const("outputTokens"))),
        (1, Gen.OneOf(DimensionPool.Select(Gen.Const).ToArray())),
        (1, Gen.Const("_aws")))
        .Where(n => n != CaseProperty);

    private static readonly Gen<Case> OneCase =
        from sets in Gen.OneOf(DimensionPool.Select(Gen.Const).ToArray()).Array[0, 4].Array[0, 3]
        from staticValues in Gen.Dictionary(Gen.OneOf(DimensionPool.Select(Gen.Const).ToArray()), Gen.Frequency((6, EmfGen.DimensionValue), (1, EmfGen.AnyText(0, 10))))[0, 3]
        from resolver in Resolver
        from properties in Gen.Dictionary(PropertyName, PropertyValue)[0, 4]
        from invocations in (
            from usage in Gen.Dictionary(UsageKey, UsageValue)[0, 300]
            from model in RuntimeText
            from agent in RuntimeText
            select new Invocation(usage, model, agent)).Array[1, 3]
        select new Case(sets.Select(s => s.Distinct().ToArray()).ToArray(), staticValues, resolver, properties, invocations);

    [Fact]
    public async Task AnyInput_NeverThrowsIntoTheAgent_WritesOnlyValidEmf_AndLosesNoValidUsageValue()
    {
        await OneCase.Array[1, 12].SampleAsync(RunAsync, iter: 30, threads: 1, print: cases => $"{cases.Length} cases: {string.Join("; ", cases.Select(c => c.ToString()))}");
    }

    private async Task RunAsync(Case[] cases)
    {
        var telemetry = _system.Telemetry;
        var before = telemetry.Stats;
        var expected = new Dictionary<string, List<(string Metric, long Value)>>(StringComparer.Ordinal);
        long invalidValues = 0, emptyRecords = 0;

        foreach (var c in cases)
        {
            var id = $"case-{Interlocked.Increment(ref _nextCase)}";
            var properties = new Dictionary<string, object?>(c.Properties) { [CaseProperty] = id };
            TokenUsageHook hook;
            try
            {
                hook = telemetry.CreateHook(new TokenUsageHookOptions
                {
                    Dimensions = c.Sets,
                    DimensionValues = c.StaticValues,
                    DimensionResolver = c.Resolver,
                    ExtraProperties = properties,
                });
            }
            catch (ArgumentException)
            {
                // Static configuration that breaks an EMF rule: refused at configuration time, as it should be.
                continue;
            }

            var dimensionKeys = c.Sets.SelectMany(s => s).ToHashSet(StringComparer.Ordinal);
            var values = expected[id] = [];
            foreach (var invocation in c.Invocations)
            {
                var valid = invocation.Usage
                    .Where(p => p.Key.Length is >= 1 and <= 255 && p.Key != "_aws" && !dimensionKeys.Contains(p.Key) && p.Value >= 0)
                    .Select(p => (p.Key, p.Value))
                    .ToList();
                invalidValues += invocation.Usage.Count - valid.Count;
                if (valid.Count == 0)
                {
                    emptyRecords++;
                }

                values.AddRange(valid);
                var e = new AfterInvocationEvent
                {
                    Agent = new AgentInfo { Name = invocation.Agent, DefaultModelId = "default" },
                    Result = new AgentResult { Usage = invocation.Usage, Model = invocation.Model },
                };

                // The hook never throws into the agent, whatever the input.
                var thrown = Record.Exception(() => hook.OnAfterInvocation(e));
                Assert.Null(thrown);
            }
        }

        await _system.FlushAsync(TimeSpan.FromSeconds(60));

        // Every valid value exactly once, in the events of its own case (split events included).
        var actual = _collector.Drain()
            .Select(line => EmfAssert.ValidLine(line))
            .GroupBy(root => root[CaseProperty]!.GetValue<string>())
            .ToDictionary(g => g.Key, g => g.SelectMany(MetricValues).ToList(), StringComparer.Ordinal);
        foreach (var (id, values) in expected)
        {
            var got = actual.GetValueOrDefault(id) ?? [];
            Assert.Equal(values.Order(), got.Order());
        }

        Assert.True(actual.Keys.All(expected.ContainsKey), "no event belongs to a case that was refused");

        // Every invalid value and every record left empty is counted with its reason; nothing else was dropped.
        var after = telemetry.Stats;
        Assert.Equal(invalidValues, after.UsageValuesDropped.Values.Sum() - before.UsageValuesDropped.Values.Sum());
        Assert.Equal(emptyRecords, after.RecordsDropped.GetValueOrDefault(DropReasons.NoUsage) - before.RecordsDropped.GetValueOrDefault(DropReasons.NoUsage));
        Assert.All(after.RecordsDropped.Keys, reason => Assert.Equal(DropReasons.NoUsage, reason));
        Assert.Empty(after.Emitters["collect"].RecordsDropped);

        // The file emitter's lines (fitted to 1 MiB) are valid EMF too.
        foreach (var line in File.ReadLines(Path.Combine(_directory, "fuzz.log")))
        {
            EmfAssert.ValidLine(line);
        }
    }

    private static IEnumerable<(string Metric, long Value)> MetricValues(JsonObject root) =>
        root["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray()
            .Select(m => m!["Name"]!.GetValue<string>())
            .Select(name => (name, root[name]!.GetValue<long>()));

    private sealed record Invocation(Dictionary<string, long> Usage, string? Model, string? Agent);

    private sealed record Case(
        string[][] Sets,
        Dictionary<string, string> StaticValues,
        Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>? Resolver,
        Dictionary<string, object?> Properties,
        Invocation[] Invocations)
    {
        public override string ToString() =>
            $"sets [{string.Join(" | ", Sets.Select(s => string.Join(",", s)))}], {StaticValues.Count} static values, resolver {(Resolver is null ? "none" : "set")}, properties [{string.Join(",", Properties.Keys.Select(EmfGen.Describe))}], usage sizes [{string.Join(",", Invocations.Select(i => i.Usage.Count))}]";
    }

    /// <summary>Keeps every line any batch carried.</summary>
    private sealed class RawCollector : IEmfEmitter
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public List<string> Drain()
        {
            var lines = new List<string>();
            while (_lines.TryDequeue(out var line))
            {
                lines.Add(line);
            }

            return lines;
        }

        public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                _lines.Enqueue(batch.GetJson(i));
            }

            return ValueTask.CompletedTask;
        }
    }
}
