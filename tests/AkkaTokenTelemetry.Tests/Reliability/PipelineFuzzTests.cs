using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;
using CsCheck;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Reliability;

/// <summary>
/// Random input of every kind through the whole pipeline (hooks, router, batching, a code emitter and a file
/// emitter): the hook never throws, every line written is valid EMF, and every valid usage value appears exactly
/// once — each invalid one, and each record left without any, is counted as dropped with its reason.
/// </summary>
public sealed class PipelineFuzzTests(ITestOutputHelper output) : IAsyncLifetime
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
        (1, Gen.String[Gen.Char['a', 'z'], 256, 300]),
        (1, EmfGen.AnyText(1, 6)),
        // Distinct .NET strings that are the same UTF-8 text: a lone surrogate is written as U+FFFD.
        (1, Gen.OneOf(Gen.Const("lone\uD800"), Gen.Const("lone\uDFFF"), Gen.Const("lone\uFFFD"))))
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
        // Values may be null (a resolver that could not find one), empty, huge, control characters, non-ASCII.
        (3, Gen.Dictionary(Gen.OneOf(DimensionPool.Append("Undeclared").Select(Gen.Const).ToArray()), RuntimeText.Select(s => s!))[0, 4]
            .Select(d => (Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>?)(_ => d))));

    private static readonly Gen<object?> PropertyValue = Gen.Frequency(
        (8, EmfGen.PropertyValue),
        (1, Gen.Int[10_000, 300_000].Select(n => (object?)new string('p', n))),
        (1, Gen.Int[1_100_000, 1_200_000].Select(n => (object?)new string('q', n))));

    /// <summary>Extra property names: ordinary, or colliding with usage keys, dimension keys and _aws.</summary>
    private static readonly Gen<string> PropertyName = Gen.Frequency(
        (6, EmfGen.UnicodeText(1, 12)),
        (2, Gen.OneOf(Gen.Const("inputTokens"), Gen.Const("outputTokens"))),
        (1, Gen.OneOf(DimensionPool.Select(Gen.Const).ToArray())),
        (1, Gen.Const("_aws")),
        (1, Gen.OneOf(Gen.Const("lone\uD800"), EmfGen.AnyText(1, 6))))
        .Where(n => n != CaseProperty);

    /// <summary>A dimension key: mostly the pool (so static values, resolvers and usage keys meet it), some random valid ASCII keys, a few invalid ones (refused when the hook is created).</summary>
    private static readonly Gen<string> DimensionKey = Gen.Frequency(
        (12, Gen.OneOf(DimensionPool.Select(Gen.Const).ToArray())),
        (2, EmfGen.DimensionKey),
        (1, Gen.OneOf(Gen.Const(string.Empty), Gen.Const("   "), Gen.Const(":colon"), Gen.Const("Modèle"), Gen.Const("tab\tkey"), Gen.Const(new string('k', 251)))));

    /// <summary>Dimension sets: none, up to three of up to four keys, and now and then one over the 30-key limit.</summary>
    private static readonly Gen<string[][]> DimensionSets = Gen.Frequency(
        (20, DimensionKey.Array[0, 4].Array[0, 3]),
        (1, Gen.String[Gen.Char['a', 'z'], 3, 3].Array[31, 31].Select(set => new[] { set })));

    /// <summary>Static dimension values: valid ones, and invalid ones (empty, 2,000 characters, control, non-ASCII) that must be refused.</summary>
    private static readonly Gen<string> StaticValue = Gen.Frequency(
        (12, EmfGen.DimensionValue),
        (1, EmfGen.AnyText(0, 10)),
        (1, Gen.Const(string.Empty)),
        (1, Gen.Const(new string('v', 2000))),
        (1, Gen.Const("ctl\u0001")));

    /// <summary>The event's timestamp: mostly now; sometimes older than 14 days or more than 2 hours ahead (replaced, and counted).</summary>
    private static readonly Gen<TimeSpan> TimestampOffset = Gen.Frequency(
        (10, Gen.Const(TimeSpan.Zero)),
        (1, Gen.Const(TimeSpan.FromDays(-20))),
        (1, Gen.Const(TimeSpan.FromHours(3))));

    /// <summary>
    /// One hook and its invocations. Five cases in six keep only static configuration the hook accepts (static values
    /// for declared keys, valid keys and values, no property named <c>_aws</c> or like a dimension key), so most
    /// cases reach the emitters; the sixth keeps whatever was generated and is mostly refused at configuration time.
    /// </summary>
    private static readonly Gen<Case> OneCase =
        from sets in DimensionSets
        from acceptable in Gen.Int[0, 5].Select(n => n != 0)
        from staticValues in Gen.Dictionary(Gen.OneOf(DimensionPool.Select(Gen.Const).ToArray()), StaticValue)[0, 3]
        from resolver in Resolver
        from properties in Gen.Dictionary(PropertyName, PropertyValue)[0, 4]
        from invocations in (
            from usage in Gen.Frequency((4, Gen.Dictionary(UsageKey, UsageValue)[0, 300]), (1, Gen.Dictionary(UsageKey, UsageValue)[0, 2]))
            from model in RuntimeText
            from agent in RuntimeText
            from noResult in Gen.Int[0, 19].Select(n => n == 0)
            from offset in TimestampOffset
            select new Invocation(usage, model, agent, noResult, offset)).Array[1, 3]
        select acceptable
            ? Acceptable(sets, staticValues, resolver, properties, invocations)
            : new Case(sets.Select(s => s.Distinct().ToArray()).ToArray(), staticValues, resolver, properties, invocations);

    private static Case Acceptable(
        string[][] sets,
        Dictionary<string, string> staticValues,
        Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>? resolver,
        Dictionary<string, object?> properties,
        Invocation[] invocations)
    {
        static bool ValidKey(string k) => k.Length is >= 1 and <= 250 && k.All(c => c is >= ' ' and <= '~') && !string.IsNullOrWhiteSpace(k) && k[0] != ':';
        static bool ValidValue(string v) => v.Length is >= 1 and <= 1024 && v.All(c => c is >= ' ' and <= '~') && !string.IsNullOrWhiteSpace(v);
        var validSets = sets.Select(s => s.Where(ValidKey).Distinct().Take(30).ToArray()).ToArray();
        var declared = validSets.SelectMany(s => s).ToHashSet(StringComparer.Ordinal);
        return new Case(
            validSets,
            staticValues.Where(p => declared.Contains(p.Key) && ValidValue(p.Value)).ToDictionary(p => p.Key, p => p.Value),
            resolver,
            properties.Where(p => p.Key != "_aws" && !declared.Contains(p.Key) && !HasLoneSurrogate(p.Key)).ToDictionary(p => p.Key, p => p.Value),
            invocations);
    }

    [Fact]
    public async Task AnyInput_NeverThrowsIntoTheAgent_WritesOnlyValidEmf_AndLosesNoValidUsageValue()
    {
        await OneCase.Array[1, 12].SampleAsync(RunAsync, iter: 30, threads: 1, print: cases => $"{cases.Length} cases: {string.Join("; ", cases.Select(c => c.ToString()))}");

        // Not vacuous: the generated cases really went through the pipeline to both emitters, and every path the
        // invariants are about was taken at least once over the run.
        var stats = _system.Telemetry.Stats;
        output.WriteLine($"{_run.Cases} cases, {_run.HooksCreated} hooks, {_run.HooksRefused} refused, {_run.Lines} lines ({_run.FileLines} in the file), {_run.ValuesEmitted} values; dropped values {string.Join(", ", stats.UsageValuesDropped)}; records {string.Join(", ", stats.RecordsDropped)}; fixes {string.Join(", ", stats.Fixes)}; split {stats.RecordsSplit}");
        Assert.True(_run.HooksCreated >= 100, $"only {_run.HooksCreated} of {_run.Cases} cases got a hook");
        Assert.True(_run.HooksRefused >= 1, "some static configurations are invalid and refused");
        Assert.True(_run.Lines >= 200, $"only {_run.Lines} lines reached the emitters");
        Assert.True(_run.ValuesEmitted >= 10_000, $"only {_run.ValuesEmitted} usage values were emitted");
        Assert.True(_run.FileLines >= _run.Lines, $"the file emitter wrote {_run.FileLines} lines, the code emitter {_run.Lines}");
        Assert.True(stats.RecordsSplit >= 1, "some records had over 100 valid usage values and were split");
        foreach (var reason in new[] { DropReasons.NegativeCount, DropReasons.InvalidMetricName, DropReasons.MetricNamedLikeDimension })
        {
            Assert.True(stats.UsageValuesDropped.GetValueOrDefault(reason) >= 1, $"no usage value was dropped as {reason}");
        }

        Assert.True(stats.RecordsDropped.GetValueOrDefault(DropReasons.NoUsage) >= 1, "no record was left without usage");
        foreach (var fix in new[] { FixKinds.MissingDimensionValue, FixKinds.SanitizedDimensionValue, FixKinds.ResolverFailed, FixKinds.UndeclaredDimension, FixKinds.PropertyNamedLikeMetric, FixKinds.TimestampReplaced })
        {
            Assert.True(stats.Fixes.GetValueOrDefault(fix) >= 1, $"no record needed the fix {fix}");
        }

        Assert.True(stats.Fixes.GetValueOrDefault(FixKinds.PropertiesTrimmed) >= 1, "some event was over the file emitter's 1 MiB and lost properties");
    }

    private readonly RunTotals _run = new();

    private async Task RunAsync(Case[] cases)
    {
        var telemetry = _system.Telemetry;
        var before = telemetry.Stats;
        var expected = new Dictionary<string, List<(string Metric, long Value)>>(StringComparer.Ordinal);
        var expectedValueDrops = new Dictionary<string, long>(StringComparer.Ordinal);
        long received = 0, emptyRecords = 0;

        foreach (var c in cases)
        {
            _run.Cases++;
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
            catch (EmfValidationException)
            {
                // Static configuration that breaks an EMF rule: refused at configuration time, as it should be.
                _run.HooksRefused++;
                continue;
            }

            _run.HooksCreated++;
            var dimensionKeys = c.Sets.SelectMany(s => s).ToHashSet(StringComparer.Ordinal);
            var values = expected[id] = [];
            foreach (var invocation in c.Invocations)
            {
                var e = new AfterInvocationEvent
                {
                    Agent = new AgentInfo { Name = invocation.Agent, DefaultModelId = "default" },
                    Result = invocation.NoResult ? null : new AgentResult { Usage = invocation.Usage, Model = invocation.Model },
                    Timestamp = DateTimeOffset.UtcNow + invocation.TimestampOffset,
                };

                // The hook never throws into the agent, whatever the input.
                var thrown = Record.Exception(() => hook.OnAfterInvocation(e));
                Assert.Null(thrown);
                if (invocation.NoResult)
                {
                    continue; // a failed invocation: nothing emitted, nothing counted
                }

                received++;
                var valid = 0;
                foreach (var (key, value) in invocation.Usage)
                {
                    // Each invalid value is counted once, under the first rule it breaks.
                    string? reason = key.Length is < 1 or > 255 || key == "_aws" || HasLoneSurrogate(key) ? DropReasons.InvalidMetricName
                        : dimensionKeys.Contains(key) ? DropReasons.MetricNamedLikeDimension
                        : value < 0 ? DropReasons.NegativeCount
                        : null;
                    if (reason is null)
                    {
                        values.Add((key, value));
                        valid++;
                    }
                    else
                    {
                        expectedValueDrops[reason] = expectedValueDrops.GetValueOrDefault(reason) + 1;
                    }
                }

                if (valid == 0)
                {
                    emptyRecords++;
                }
            }
        }

        await _system.FlushAsync(TimeSpan.FromSeconds(60));
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // Every line is checked as the bytes the emitter was given (strict UTF-8), then: every valid value exactly
        // once, in the events of its own case (split events included).
        var lines = _collector.Drain();
        _run.Lines += lines.Count;
        var actual = lines
            .Select(line => EmfAssert.ValidLine(line, nowMs))
            .GroupBy(root => root[CaseProperty]!.GetValue<string>())
            .ToDictionary(g => g.Key, g => g.SelectMany(MetricValues).ToList(), StringComparer.Ordinal);
        foreach (var (id, values) in expected)
        {
            var got = actual.GetValueOrDefault(id) ?? [];
            Assert.Equal(values.Order(), got.Order());
            _run.ValuesEmitted += got.Count;
        }

        Assert.True(actual.Keys.All(expected.ContainsKey), "no event belongs to a case that was refused");

        // Every invalid value and every record left empty is counted under its own reason; nothing else was dropped.
        var after = telemetry.Stats;
        Assert.Equal(Sorted(expectedValueDrops), Delta(before.UsageValuesDropped, after.UsageValuesDropped));
        Assert.Equal(Sorted(new Dictionary<string, long> { [DropReasons.NoUsage] = emptyRecords }), Delta(before.RecordsDropped, after.RecordsDropped));
        Assert.Equal(received, after.RecordsReceived - before.RecordsReceived);
        Assert.Equal(received - emptyRecords, after.RecordsAccepted - before.RecordsAccepted);
        foreach (var name in new[] { "collect", "file" })
        {
            Assert.Empty(after.Emitters[name].RecordsDropped);
            Assert.Equal(received - emptyRecords, after.Emitters[name].RecordsDelivered - (before.Emitters.TryGetValue(name, out var b) ? b.RecordsDelivered : 0));
        }

        // The file emitter's lines (fitted to 1 MiB), as the bytes on disk, are valid EMF too.
        var bytes = await File.ReadAllBytesAsync(Path.Combine(_directory, "fuzz.log"));
        var fileLines = 0;
        var rest = bytes.AsMemory(_fileOffset);
        while (!rest.IsEmpty)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            Assert.True(end >= 0, "the file ends with a complete line");
            var line = rest[..(end + 1)];
            var root = EmfAssert.ValidLine(line.Span, nowMs);
            Assert.True(line.Length <= 1024 * 1024, $"a file line of {line.Length} bytes is over 1 MiB");
            Assert.True(root[CaseProperty] is JsonValue id && expected.ContainsKey(id.GetValue<string>()), "a file line belongs to a case of this run");

            fileLines++;
            rest = rest[(end + 1)..];
        }

        _fileOffset = bytes.Length;
        _run.FileLines += fileLines;
    }

    private int _fileOffset;

    /// <summary>Whether a .NET string is not Unicode text (it has no UTF-8 form, so it cannot be a name).</summary>
    private static bool HasLoneSurrogate(string text)
    {
        try
        {
            _ = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetByteCount(text);
            return false;
        }
        catch (System.Text.EncoderFallbackException)
        {
            return true;
        }
    }

    private static SortedDictionary<string, long> Sorted(IReadOnlyDictionary<string, long> counts) =>
        new(counts.Where(p => p.Value != 0).ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal);

    private static SortedDictionary<string, long> Delta(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after) =>
        Sorted(after.ToDictionary(p => p.Key, p => p.Value - before.GetValueOrDefault(p.Key)));

    private static IEnumerable<(string Metric, long Value)> MetricValues(JsonObject root) =>
        root["_aws"]!["CloudWatchMetrics"]![0]!["Metrics"]!.AsArray()
            .Select(m => m!["Name"]!.GetValue<string>())
            .Select(name => (name, root[name]!.GetValue<long>()));

    private sealed record Invocation(Dictionary<string, long> Usage, string? Model, string? Agent, bool NoResult, TimeSpan TimestampOffset);

    /// <summary>What the whole run went through, to show it was not vacuous.</summary>
    private sealed class RunTotals
    {
        public int Cases;
        public int HooksCreated;
        public int HooksRefused;
        public long Lines;
        public long FileLines;
        public long ValuesEmitted;
    }

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

    /// <summary>Keeps every line any batch carried, as the UTF-8 bytes an emitter is given.</summary>
    private sealed class RawCollector : IEmfEmitter
    {
        private readonly ConcurrentQueue<byte[]> _lines = new();

        public List<byte[]> Drain()
        {
            var lines = new List<byte[]>();
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
                _lines.Enqueue(batch.GetEvent(i).ToArray());
            }

            return ValueTask.CompletedTask;
        }
    }
}
