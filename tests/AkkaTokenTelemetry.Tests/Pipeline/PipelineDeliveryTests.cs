using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Pipeline;

/// <summary>Records flow from the hook through router and stream to emitters, with the right values.</summary>
public class PipelineDeliveryTests : PipelineTestKit
{
    private readonly CollectingEmitter _collector;

    public PipelineDeliveryTests(ITestOutputHelper output)
        : this(new CollectingEmitter(), output)
    {
    }

    private PipelineDeliveryTests(CollectingEmitter collector, ITestOutputHelper output)
        : base("akka.token-telemetry { emitters = [collect], emitter.collect.type = delegate }", new TokenTelemetrySetup().WithEmitter("collect", collector), output)
    {
        _collector = collector;
    }

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private async Task Flush() => await Telemetry.FlushAsync(new CancellationTokenSource(Wait).Token);

    [Fact]
    public void ToActorProbe_ReceivesAValidPayloadWithTheRightCountsAndDimensionValues()
    {
        var probe = CreateTestProbe();
        var hook = Telemetry.CreateHook(new TokenUsageHookOptions
        {
            Dimensions = [["Model"], ["Model", "Agent"]],
            ExtraProperties = new Dictionary<string, object?> { ["SessionId"] = "s-1" },
            Emitter = EmfEmitters.ToActor(probe.Ref),
        });
        var usage = new Dictionary<string, long> { ["inputTokens"] = 1523, ["outputTokens"] = 842, ["totalTokens"] = 2365 };
        var e = Invocation(usage);

        hook.OnAfterInvocation(e);

        var emitted = probe.ExpectMsg<EmfPayloadEmitted>(Dilated(Wait));
        var parsed = EmfAssert.ValidLine(emitted.Json);
        Assert.True(JsonNode.DeepEquals(parsed, emitted.Payload));
        Assert.Equal(1523, emitted.Payload["inputTokens"]!.GetValue<long>());
        Assert.Equal(842, emitted.Payload["outputTokens"]!.GetValue<long>());
        Assert.Equal(2365, emitted.Payload["totalTokens"]!.GetValue<long>());
        Assert.Equal("gpt-4o", emitted.Payload["Model"]!.GetValue<string>());
        Assert.Equal("research-agent", emitted.Payload["Agent"]!.GetValue<string>());
        Assert.Equal("s-1", emitted.Payload["SessionId"]!.GetValue<string>());

        // Exactly what EmfPayload.Build returns for the record.
        var built = EmfPayload.Build(
            usage,
            "Strands/AgentTokenUsage",
            [["Model"], ["Model", "Agent"]],
            new Dictionary<string, string> { ["Model"] = "gpt-4o", ["Agent"] = "research-agent" },
            new Dictionary<string, object?> { ["SessionId"] = "s-1" },
            e.Timestamp.ToUnixTimeMilliseconds());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(built.ToJsonString()), emitted.Payload));

        // A hook with its own emitter sends only there.
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Empty(_collector.Events);
    }

    [Fact]
    public async Task HookWithoutEmitter_SendsToTheHoconEmitters()
    {
        var hook = Telemetry.CreateHook();
        hook.OnAfterInvocation(Invocation());
        await Flush();
        var e = Assert.Single(_collector.Events);
        Assert.Equal("Strands/AgentTokenUsage", e["_aws"]!["CloudWatchMetrics"]![0]!["Namespace"]!.GetValue<string>());
        Assert.Equal("""[["Model"]]""", e["_aws"]!["CloudWatchMetrics"]![0]!["Dimensions"]!.ToJsonString());
    }

    [Fact]
    public async Task DimensionValues_AutoThenStaticThenResolver_LaterWins()
    {
        var hook = Telemetry.CreateHook(new TokenUsageHookOptions
        {
            Dimensions = [["Model", "Agent", "Provider", "Environment", "Tenant"]],
            DimensionValues = new Dictionary<string, string> { ["Agent"] = "static-agent", ["Environment"] = "prod", ["Tenant"] = "static-tenant" },
            DimensionResolver = _ => new Dictionary<string, string> { ["Environment"] = "resolved-env", ["Model"] = "resolved-model" },
        });

        hook.OnAfterInvocation(Invocation(model: "gpt-4o", agent: "auto-agent", provider: "openai"));
        await Flush();

        var e = Assert.Single(_collector.Events);
        Assert.Equal("resolved-model", e["Model"]!.GetValue<string>());   // resolver beats auto
        Assert.Equal("static-agent", e["Agent"]!.GetValue<string>());     // static beats auto
        Assert.Equal("openai", e["Provider"]!.GetValue<string>());        // auto
        Assert.Equal("resolved-env", e["Environment"]!.GetValue<string>()); // resolver beats static
        Assert.Equal("static-tenant", e["Tenant"]!.GetValue<string>());   // static
        Assert.Empty(Telemetry.Stats.Fixes);
    }

    [Fact]
    public async Task Model_FallsBackToTheAgentsDefaultModel()
    {
        var hook = Telemetry.CreateHook();
        hook.OnAfterInvocation(Invocation(model: null));
        await Flush();
        Assert.Equal("default-model", Assert.Single(_collector.Events)["Model"]!.GetValue<string>());
    }

    [Fact]
    public async Task ResolverThatThrows_StillYieldsAValidRecordWithFallbackValues_AndIsCounted()
    {
        var hook = Telemetry.CreateHook(new TokenUsageHookOptions
        {
            Dimensions = [["Model", "Tenant"]],
            DimensionResolver = _ => throw new InvalidOperationException("tenant service down"),
        });

        hook.OnAfterInvocation(Invocation());
        hook.OnAfterInvocation(Invocation());
        await Flush();

        Assert.Equal(2, _collector.Events.Count);
        Assert.All(_collector.Events, e =>
        {
            Assert.Equal("gpt-4o", e["Model"]!.GetValue<string>()); // the automatic value survives
            Assert.Equal("unknown", e["Tenant"]!.GetValue<string>()); // nothing else provides one
        });
        var stats = Telemetry.Stats;
        Assert.Equal(2, stats.Fixes[FixKinds.ResolverFailed]);
        Assert.Equal(2, stats.Fixes[FixKinds.MissingDimensionValue]);
        Assert.Equal(0, stats.RecordsDroppedTotal);
    }

    [Fact]
    public async Task ResolverReturningInvalidValues_IsSanitizedOrFilled_AndCounted()
    {
        var hook = Telemetry.CreateHook(new TokenUsageHookOptions
        {
            Dimensions = [["Model", "Agent", "Region"]],
            DimensionResolver = _ => new Dictionary<string, string> { ["Model"] = "", ["Agent"] = "東京-agent\n", ["Region"] = new string('r', 2000), ["Undeclared"] = "x" },
        });

        hook.OnAfterInvocation(Invocation());
        await Flush();

        var e = Assert.Single(_collector.Events);
        Assert.Equal("unknown", e["Model"]!.GetValue<string>());
        Assert.Equal("__-agent_", e["Agent"]!.GetValue<string>());
        Assert.Equal(1024, e["Region"]!.GetValue<string>().Length);
        Assert.Null(e["Undeclared"]);
        var fixes = Telemetry.Stats.Fixes;
        Assert.Equal(1, fixes[FixKinds.MissingDimensionValue]);
        Assert.Equal(2, fixes[FixKinds.SanitizedDimensionValue]);
        Assert.Equal(1, fixes[FixKinds.UndeclaredDimension]);
    }

    [Fact]
    public void RecordWith150UsageKeys_ArrivesAsTwoEvents_EachWithTheExtraProperties()
    {
        var probe = CreateTestProbe();
        var hook = Telemetry.CreateHook(new TokenUsageHookOptions
        {
            ExtraProperties = new Dictionary<string, object?> { ["UserId"] = "u-7", ["SessionId"] = "s-9" },
            Emitter = EmfEmitters.ToActor(probe.Ref),
        });
        var usage = Enumerable.Range(0, 150).ToDictionary(i => $"metric{i:000}", i => (long)i);

        hook.OnAfterInvocation(Invocation(usage));

        var first = probe.ExpectMsg<EmfPayloadEmitted>(Dilated(Wait)).Payload;
        var second = probe.ExpectMsg<EmfPayloadEmitted>(Dilated(Wait)).Payload;
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        foreach (var e in new[] { first, second })
        {
            EmfAssert.Valid(e);
            Assert.Equal("u-7", e["UserId"]!.GetValue<string>());
            Assert.Equal("s-9", e["SessionId"]!.GetValue<string>());
            Assert.Equal("gpt-4o", e["Model"]!.GetValue<string>());
        }

        var metrics = first.Concat(second).Where(p => p.Key.StartsWith("metric", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value!.GetValue<long>());
        Assert.Equal(usage.OrderBy(p => p.Key), metrics.OrderBy(p => p.Key));
        Assert.Equal(1, Telemetry.Stats.RecordsSplit);
        Assert.Equal(2, Telemetry.Stats.EventsWritten);
    }

    [Fact]
    public async Task NegativeAndInvalidUsageValues_AreDroppedAndCounted_TheRestIsEmitted()
    {
        var hook = Telemetry.CreateHook();
        hook.OnAfterInvocation(Invocation(new Dictionary<string, long> { ["inputTokens"] = 10, ["outputTokens"] = -3, ["_aws"] = 1, ["Model"] = 5 }));
        hook.OnAfterInvocation(Invocation(new Dictionary<string, long> { ["outputTokens"] = -1 }));
        await Flush();

        var e = Assert.Single(_collector.Events);
        Assert.Equal(10, e["inputTokens"]!.GetValue<long>());
        Assert.Null(e["outputTokens"]);
        Assert.Equal("gpt-4o", e["Model"]!.GetValue<string>());
        var stats = Telemetry.Stats;
        Assert.Equal(2, stats.UsageValuesDropped[DropReasons.NegativeCount]);
        Assert.Equal(1, stats.UsageValuesDropped[DropReasons.InvalidMetricName]);
        Assert.Equal(1, stats.UsageValuesDropped[DropReasons.MetricNamedLikeDimension]);
        Assert.Equal(1, stats.RecordsDropped[DropReasons.NoUsage]);
    }

    [Fact]
    public async Task TimestampOutsideTheWindow_IsReplacedByNow_AndCounted()
    {
        var hook = Telemetry.CreateHook();
        var e = new AfterInvocationEvent
        {
            Agent = new AgentInfo { Name = "a" },
            Result = new AgentResult { Usage = new Dictionary<string, long> { ["t"] = 1 } },
            Timestamp = DateTimeOffset.UtcNow.AddDays(-30),
        };
        hook.OnAfterInvocation(e);
        await Flush();
        EmfAssert.Valid(Assert.Single(_collector.Events), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal(1, Telemetry.Stats.Fixes[FixKinds.TimestampReplaced]);
    }

    [Fact]
    public async Task HookOptionsThatDoNotFitHocon_AreRefusedWhenTheHookIsCreated()
    {
        var e = Assert.Throws<EmfValidationException>(() => Telemetry.CreateHook(new TokenUsageHookOptions { DimensionValues = new Dictionary<string, string> { ["Environment"] = "prod" } }));
        Assert.Equal("options.DimensionValues[\"Environment\"]", e.Field);

        // The public constructor over the pipeline's router checks against HOCON just the same.
        Assert.Throws<EmfValidationException>(() => new TokenUsageHook(Telemetry.Router, new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Model"] = "x" } }));
        await Flush();
    }

    [Fact]
    public async Task Stats_EveryReceivedRecordIsAcceptedOrDroppedWithAReason()
    {
        var hook = Telemetry.CreateHook();
        for (var i = 0; i < 50; i++)
        {
            hook.OnAfterInvocation(Invocation(new Dictionary<string, long> { ["t"] = i % 5 == 0 ? -1 : i }));
        }

        await Flush();
        var stats = Telemetry.Stats;
        Assert.Equal(50, stats.RecordsReceived);
        Assert.Equal(40, stats.RecordsAccepted);
        Assert.Equal(10, stats.RecordsDropped[DropReasons.NoUsage]);
        Assert.Equal(stats.RecordsReceived, stats.RecordsAccepted + stats.RecordsDroppedTotal);
        Assert.Equal(40, stats.Emitters["collect"].RecordsDelivered);
        Assert.Equal(40, _collector.Records);
    }
}
