using AkkaTokenTelemetry.Extensions.AI.Tests.Support;
using Microsoft.Extensions.AI;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Extensions.AI.Tests;

/// <summary>
/// The chat-client adapter over scripted clients; a TestProbe stands in for the router and receives each
/// <see cref="UsageRecorded"/> (the event the adapter built).
/// </summary>
public sealed class ChatClientTests(ITestOutputHelper output) : TelemetryTestKit(output)
{
    private static readonly UsageDetails Full = new()
    {
        InputTokenCount = 120,
        OutputTokenCount = 45,
        TotalTokenCount = 165,
        CachedInputTokenCount = 100,
        ReasoningTokenCount = 30,
        AdditionalCounts = new() { ["CacheCreationInputTokens"] = 7, ["InputTokenDetails.AudioTokenCount"] = 3 },
    };

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    /// <summary>How long to watch for a message between two updates of a stream (the TestKit dilates it).</summary>
    private static readonly TimeSpan Brief = TimeSpan.FromMilliseconds(100);

    private (IChatClient Client, Akka.TestKit.TestProbe Router) Wrap(FakeChatClient inner, string? agentName = "support-bot")
    {
        var router = CreateTestProbe();
        var client = inner.AsBuilder().UseTokenTelemetry(new TokenUsageHook(router.Ref), agentName).Build();
        return (client, router);
    }

    /// <summary>One non-streaming call and one streaming call (read to the end) of <paramref name="client"/>.</summary>
    private static async Task<(ChatResponse Returned, List<ChatResponseUpdate> Streamed)> CallBothWaysAsync(IChatClient client)
    {
        var returned = await client.GetResponseAsync("hello");
        var streamed = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("hello"))
        {
            streamed.Add(update);
        }

        return (returned, streamed);
    }

    /// <summary>The router got exactly one record: <see cref="Full"/>'s usage, the fake's model, no exception.</summary>
    private static void ExpectFullUsageRecordedOnce(Akka.TestKit.TestProbe router)
    {
        var recorded = router.ExpectMsg<UsageRecorded>();
        Assert.Equal(165, recorded.Usage.ToDictionary()["totalTokens"]);
        Assert.Equal("fake-model-2025-01-01", recorded.Event.Result!.Model);
        Assert.Null(recorded.Event.Exception);
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task GetResponseAsync_with_usage_records_one_event_with_the_mapped_counts()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = Full, ModelId = "fake-model-2025-01-01", FinishReason = ChatFinishReason.Stop };
        var (client, router) = Wrap(new FakeChatClient { Response = response });

        var returned = await client.GetResponseAsync("hello");

        Assert.Same(response, returned);
        var recorded = router.ExpectMsg<UsageRecorded>();
        Assert.Equal(
            new Dictionary<string, long> { ["inputTokens"] = 120, ["outputTokens"] = 45, ["totalTokens"] = 165, ["cacheReadInputTokens"] = 100, ["cacheWriteInputTokens"] = 7, ["reasoningTokens"] = 30 },
            recorded.Usage.ToDictionary());
        var e = recorded.Event;
        Assert.Equal("support-bot", e.Agent.Name);
        Assert.Equal("fake-provider", e.Agent.ProviderName);
        Assert.Equal("fake-default-model", e.Agent.DefaultModelId);
        Assert.Equal("fake-model-2025-01-01", e.Result!.Model);
        Assert.Equal("stop", e.Result.StopReason);
        Assert.Same(response, e.Result.Raw);
        Assert.Null(e.Exception);
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task GetResponseAsync_without_usage_records_nothing_and_returns_the_response()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi"));
        var (client, router) = Wrap(new FakeChatClient { Response = response });

        Assert.Same(response, await client.GetResponseAsync("hello"));
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task GetResponseAsync_with_partial_usage_omits_null_counts_and_totals_what_is_there()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = new UsageDetails { InputTokenCount = 10 } };
        var (client, router) = Wrap(new FakeChatClient { Response = response });

        await client.GetResponseAsync("hello");

        var recorded = router.ExpectMsg<UsageRecorded>();
        Assert.Equal(new Dictionary<string, long> { ["inputTokens"] = 10, ["totalTokens"] = 10 }, recorded.Usage.ToDictionary());
        Assert.Equal("fake-default-model", recorded.Event.Result!.Model); // no ModelId in the response: the metadata's default
    }

    [Fact]
    public async Task GetResponseAsync_with_an_empty_usage_object_records_nothing()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = new UsageDetails() };
        var (client, router) = Wrap(new FakeChatClient { Response = response });

        await client.GetResponseAsync("hello");

        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task GetResponseAsync_that_fails_rethrows_the_same_exception_and_records_nothing()
    {
        var failure = new InvalidOperationException("provider down");
        var (client, router) = Wrap(new FakeChatClient { ResponseFailure = failure });

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync("hello"));

        Assert.Same(failure, thrown);
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public void AdditionalCounts_are_included_only_when_listed()
    {
        Assert.DoesNotContain("InputTokenDetails.AudioTokenCount", TokenUsageMapping.ToUsage(Full).Keys);
        var usage = TokenUsageMapping.ToUsage(Full, ["InputTokenDetails.AudioTokenCount", "NotReported"]);
        Assert.Equal(3, usage["InputTokenDetails.AudioTokenCount"]);
        Assert.DoesNotContain("NotReported", usage.Keys);
        Assert.Empty(TokenUsageMapping.ToUsage(null));
    }

    [Fact]
    public async Task AdditionalCounts_option_adds_the_listed_keys_to_the_event()
    {
        var router = CreateTestProbe();
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = Full };
        var client = new FakeChatClient { Response = response }.AsBuilder()
            .UseTokenTelemetry(o =>
            {
                o.Hook = new TokenUsageHook(router.Ref);
                o.AdditionalCounts.Add("InputTokenDetails.AudioTokenCount");
            })
            .Build();

        await client.GetResponseAsync("hello");

        Assert.Equal(3, router.ExpectMsg<UsageRecorded>().Usage.ToDictionary()["InputTokenDetails.AudioTokenCount"]);
    }

    [Fact]
    public async Task Streaming_with_one_UsageContent_records_it_once_after_the_enumeration()
    {
        var updates = new[] { FakeChatClient.Text("hel"), FakeChatClient.Text("lo"), FakeChatClient.Usage(Full) };
        var (client, router) = Wrap(new FakeChatClient { Updates = updates });

        var received = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("hello"))
        {
            received.Add(update);
            router.ExpectNoMsg(Brief); // nothing before the enumeration ends
        }

        Assert.Equal(updates, received); // the very same update objects, in order
        ExpectFullUsageRecordedOnce(router);
    }

    [Fact]
    public async Task Streaming_with_several_UsageContents_records_their_sum()
    {
        var updates = new[]
        {
            FakeChatClient.Usage(new UsageDetails { InputTokenCount = 50, OutputTokenCount = 10, TotalTokenCount = 60, CachedInputTokenCount = 0, ReasoningTokenCount = 5 }),
            FakeChatClient.Text("sunny"),
            FakeChatClient.Usage(new UsageDetails { InputTokenCount = 80, OutputTokenCount = 20, TotalTokenCount = 100, CachedInputTokenCount = 40, ReasoningTokenCount = 8 }),
        };
        var (client, router) = Wrap(new FakeChatClient { Updates = updates });

        await foreach (var _ in client.GetStreamingResponseAsync("hello"))
        {
        }

        var recorded = router.ExpectMsg<UsageRecorded>();
        Assert.Equal(
            new Dictionary<string, long> { ["inputTokens"] = 130, ["outputTokens"] = 30, ["totalTokens"] = 160, ["cacheReadInputTokens"] = 40, ["reasoningTokens"] = 13 },
            recorded.Usage.ToDictionary());
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task Streaming_without_usage_records_nothing()
    {
        var (client, router) = Wrap(new FakeChatClient { Updates = [FakeChatClient.Text("hello")] });

        await foreach (var _ in client.GetStreamingResponseAsync("hello"))
        {
        }

        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task Streaming_stopped_early_by_the_caller_records_the_usage_seen_so_far()
    {
        var updates = new[] { FakeChatClient.Usage(Full), FakeChatClient.Text("never read") };
        var (client, router) = Wrap(new FakeChatClient { Updates = updates });

        await foreach (var _ in client.GetStreamingResponseAsync("hello"))
        {
            break;
        }

        var recorded = router.ExpectMsg<UsageRecorded>();
        Assert.Equal(120, recorded.Usage.ToDictionary()["inputTokens"]);
        Assert.Null(recorded.Event.Exception);
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task Streaming_cancelled_midway_records_the_usage_with_the_cancellation_and_rethrows_it()
    {
        using var cts = new CancellationTokenSource();
        var (client, router) = Wrap(new FakeChatClient { Updates = [FakeChatClient.Usage(Full)], HangAfterUpdates = true });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync("hello", cancellationToken: cts.Token))
            {
                await cts.CancelAsync();
            }
        });

        var recorded = router.ExpectMsg<UsageRecorded>();
        Assert.Equal(165, recorded.Usage.ToDictionary()["totalTokens"]);
        Assert.IsAssignableFrom<OperationCanceledException>(recorded.Event.Exception);
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task Streaming_that_fails_after_usage_records_it_and_rethrows_the_same_exception()
    {
        var failure = new IOException("connection reset");
        var (client, router) = Wrap(new FakeChatClient { Updates = [FakeChatClient.Text("par"), FakeChatClient.Usage(Full)], StreamFailure = failure });

        var thrown = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync("hello"))
            {
            }
        });

        Assert.Same(failure, thrown);
        var recorded = router.ExpectMsg<UsageRecorded>();
        Assert.Equal(120, recorded.Usage.ToDictionary()["inputTokens"]);
        Assert.Same(failure, recorded.Event.Exception);
        router.ExpectNoMsg(Quiet);
    }

    [Fact]
    public async Task Streaming_passes_a_null_update_on_unchanged_and_records_the_usage_of_the_others_once()
    {
        var updates = new[] { FakeChatClient.Text("hel"), null!, FakeChatClient.Usage(Full), FakeChatClient.Text("lo") };
        var (client, router) = Wrap(new FakeChatClient { Updates = updates });

        var received = new List<ChatResponseUpdate?>();
        await foreach (var update in client.GetStreamingResponseAsync("hello"))
        {
            received.Add(update);
        }

        Assert.Equal(updates, received); // the null included, in its place
        ExpectFullUsageRecordedOnce(router);
    }

    [Fact]
    public async Task A_hook_emitter_that_throws_never_fails_the_call_and_the_record_is_counted_as_an_emitter_error()
    {
        var hook = Telemetry.CreateHook(new TokenUsageHookOptions { Emitter = _ => throw new InvalidOperationException("emitter broken") });
        await Telemetry.FlushAsync();
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = Full };
        var client = new FakeChatClient { Response = response }.AsBuilder().UseTokenTelemetry(hook).Build();

        Assert.Same(response, await client.GetResponseAsync("hello"));
        await Telemetry.FlushAsync();
        Assert.Equal(1, Telemetry.Stats.RecordsDropped.GetValueOrDefault(DropReasons.EmitterError));
    }

    [Fact]
    public async Task A_hook_whose_actor_system_was_terminated_never_fails_the_call_and_returns_the_inner_results_unchanged()
    {
        var system = Akka.Actor.ActorSystem.Create("terminated", Sys.Settings.Config);
        var telemetry = TokenTelemetry.Get(system);
        var hook = telemetry.CreateHook();
        await system.Terminate();
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = Full };
        var updates = new[] { FakeChatClient.Text("hel"), FakeChatClient.Usage(Full) };
        var client = new FakeChatClient { Response = response, Updates = updates }.AsBuilder().UseTokenTelemetry(hook).Build();

        var (returned, streamed) = await CallBothWaysAsync(client);

        Assert.Same(response, returned);
        Assert.Equal(updates, streamed);
        Assert.Equal(2, telemetry.Stats.RecordsDropped.GetValueOrDefault(DropReasons.Shutdown)); // both calls reached the hook
    }

    [Fact]
    public async Task A_hook_over_a_stopped_actor_never_fails_the_call_and_returns_the_inner_results_unchanged()
    {
        var router = CreateTestProbe();
        Watch(router.Ref);
        Sys.Stop(router.Ref);
        ExpectTerminated(router.Ref);
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = Full };
        var updates = new[] { FakeChatClient.Usage(Full), FakeChatClient.Text("lo") };
        var client = new FakeChatClient { Response = response, Updates = updates }.AsBuilder().UseTokenTelemetry(new TokenUsageHook(router.Ref)).Build();

        var (returned, streamed) = await CallBothWaysAsync(client);

        Assert.Same(response, returned);
        Assert.Equal(updates, streamed);
    }

    [Fact]
    public void UseTokenTelemetry_without_a_hook_takes_the_hook_registered_in_the_service_provider()
    {
        var router = CreateTestProbe();
        var hook = new TokenUsageHook(router.Ref);
        var services = new SingleServiceProvider(typeof(TokenUsageHook), hook);
        var client = new FakeChatClient().AsBuilder().UseTokenTelemetry().Build(services);

        Assert.NotNull(client.GetService<TokenTelemetryChatClient>());
        Assert.Throws<InvalidOperationException>(() => new FakeChatClient().AsBuilder().UseTokenTelemetry().Build(new SingleServiceProvider(typeof(string), "none")));
    }

    [Fact]
    public async Task UseTokenTelemetry_without_a_hook_falls_back_to_the_actor_system_in_the_service_provider()
    {
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")) { Usage = Full };
        var client = new FakeChatClient { Response = response }.AsBuilder().UseTokenTelemetry().Build(new SingleServiceProvider(typeof(Akka.Actor.ActorSystem), Sys));

        await client.GetResponseAsync("hello");
        await Telemetry.FlushAsync();

        Assert.Equal(1, Telemetry.Stats.RecordsAccepted);
    }

    private sealed class SingleServiceProvider(Type type, object service) : IServiceProvider
    {
        public object? GetService(Type serviceType) => serviceType == type ? service : null;
    }
}

internal static class UsageExtensions
{
    public static Dictionary<string, long> ToDictionary(this IReadOnlyList<KeyValuePair<string, long>> usage) =>
        usage.ToDictionary(p => p.Key, p => p.Value);
}
