using Akka.Actor;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Hooks;

/// <summary>The hook on its own, with a TestProbe standing in for the router.</summary>
public class TokenUsageHookTests(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public void OnAfterInvocation_ProbeAsRouter_ReceivesTheEventsDataAndTheCallReturnsAtOnce()
    {
        var probe = CreateTestProbe();
        var options = new TokenUsageHookOptions { Namespace = "Acme/Tokens" };
        var hook = new TokenUsageHook(probe.Ref, options);
        var usage = new Dictionary<string, long> { ["inputTokens"] = 10, ["outputTokens"] = 5 };
        var e = new AfterInvocationEvent
        {
            Agent = new AgentInfo { Name = "planner", Id = "a-1", ProviderName = "openai", DefaultModelId = "gpt-4o" },
            Result = new AgentResult { Usage = usage, Model = "gpt-4o-2024-08-06", StopReason = "stop" },
            Duration = TimeSpan.FromMilliseconds(1234),
        };

        hook.OnAfterInvocation(e);
        usage["inputTokens"] = 999; // the caller reusing its dictionary must not change what was recorded

        var message = probe.ExpectMsg<UsageRecorded>();
        Assert.Same(e, message.Event);
        Assert.Same(options, message.Options);
        Assert.Equal([new("inputTokens", 10L), new("outputTokens", 5L)], message.Usage);
        Assert.Equal("planner", message.Event.Agent.Name);
        Assert.Equal("gpt-4o-2024-08-06", message.Event.Result!.Model);
    }

    [Fact]
    public void OnAfterInvocation_RouterStuckInsideAMessage_StillReturns()
    {
        using var gate = new ManualResetEventSlim(false);
        var stuck = Sys.ActorOf(Props.Create(() => new GateActor(gate)));
        var hook = new TokenUsageHook(stuck);
        var e = new AfterInvocationEvent { Agent = new AgentInfo(), Result = new AgentResult { Usage = new Dictionary<string, long> { ["t"] = 1 } } };

        // The first message blocks the router; the calls after it must still return, because the hook only Tells.
        for (var i = 0; i < 1000; i++)
        {
            hook.OnAfterInvocation(e);
        }

        Assert.False(gate.IsSet);
        gate.Set();
    }

    [Fact]
    public void OnAfterInvocation_ManyCallsAgainstAProbeThatNeverReads_AllReturn()
    {
        var probe = CreateTestProbe();
        var hook = new TokenUsageHook(probe.Ref);
        var e = new AfterInvocationEvent { Agent = new AgentInfo(), Result = new AgentResult { Usage = new Dictionary<string, long> { ["t"] = 1 } } };
        for (var i = 0; i < 10_000; i++)
        {
            hook.OnAfterInvocation(e);
        }

        probe.ExpectMsg<UsageRecorded>();
    }

    [Fact]
    public void OnAfterInvocation_NullResult_SendsNothing()
    {
        var probe = CreateTestProbe();
        var hook = new TokenUsageHook(probe.Ref);
        hook.OnAfterInvocation(new AfterInvocationEvent { Agent = new AgentInfo { Name = "a" }, Exception = new InvalidOperationException("model down") });
        hook.OnAfterInvocation(null!);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void OnAfterInvocation_UsageThatThrowsWhenRead_NeverThrowsIntoTheAgent()
    {
        var probe = CreateTestProbe();
        var hook = new TokenUsageHook(probe.Ref);
        var e = new AfterInvocationEvent { Agent = new AgentInfo(), Result = new AgentResult { Usage = new ThrowingUsage() } };
        hook.OnAfterInvocation(e);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Constructor_NullRouter_IsRefused()
    {
        Assert.Throws<ArgumentNullException>(() => new TokenUsageHook(null!));
    }

    [Fact]
    public void Constructor_InvalidOptions_AreRefusedWithTheField()
    {
        var probe = CreateTestProbe();
        Assert.Equal("options.Namespace", Assert.Throws<EmfValidationException>(() => new TokenUsageHook(probe.Ref, new TokenUsageHookOptions { Namespace = "AWS/X" })).Field);
        Assert.Equal("options.Dimensions[0]", Assert.Throws<EmfValidationException>(() => new TokenUsageHook(probe.Ref, new TokenUsageHookOptions { Dimensions = [Enumerable.Range(0, 31).Select(i => $"k{i}").ToArray()] })).Field);
        Assert.Equal("options.DimensionValues[\"Env\"]", Assert.Throws<EmfValidationException>(() => new TokenUsageHook(probe.Ref, new TokenUsageHookOptions { Dimensions = [["Model"]], DimensionValues = new Dictionary<string, string> { ["Env"] = "prod" } })).Field);
        Assert.Equal("options.ExtraProperties[\"_aws\"]", Assert.Throws<EmfValidationException>(() => new TokenUsageHook(probe.Ref, new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["_aws"] = 1 } })).Field);
        Assert.Equal("options.ExtraProperties[\"Model\"]", Assert.Throws<EmfValidationException>(() => new TokenUsageHook(probe.Ref, new TokenUsageHookOptions { Dimensions = [["Model"]], ExtraProperties = new Dictionary<string, object?> { ["Model"] = "x" } })).Field);
    }

    private sealed class GateActor : ReceiveActor
    {
        public GateActor(ManualResetEventSlim gate) => ReceiveAny(_ => gate.Wait(TimeSpan.FromSeconds(30)));
    }

    private sealed class ThrowingUsage : IReadOnlyDictionary<string, long>
    {
        public long this[string key] => throw new InvalidOperationException();

        public IEnumerable<string> Keys => throw new InvalidOperationException();

        public IEnumerable<long> Values => throw new InvalidOperationException();

        public int Count => throw new InvalidOperationException("broken usage");

        public bool ContainsKey(string key) => throw new InvalidOperationException();

        public IEnumerator<KeyValuePair<string, long>> GetEnumerator() => throw new InvalidOperationException();

        public bool TryGetValue(string key, out long value) => throw new InvalidOperationException();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
