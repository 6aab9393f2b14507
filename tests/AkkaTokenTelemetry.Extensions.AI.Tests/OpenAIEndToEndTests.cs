using System.ComponentModel;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Extensions.AI.Tests.Support;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Extensions.AI.Tests;

/// <summary>
/// The real OpenAI .NET client (Microsoft.Extensions.AI.OpenAI) against a loopback chat-completions server, through
/// the adapters and the real pipeline, down to the EMF events.
/// </summary>
public sealed class OpenAIEndToEndTests(ITestOutputHelper output) : TelemetryTestKit(output), IAsyncLifetime
{
    private readonly LoopbackOpenAIServer _server = new();

    private static readonly AIFunction Weather = AIFunctionFactory.Create(GetWeather, "get_weather");

    [Description("Gets the weather in a city")]
    private static string GetWeather(string city) => $"sunny in {city}";

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _server.DisposeAsync();

    private static void AssertEvent(JsonObject e, long input, long output, long cached, long reasoning, string agent)
    {
        Assert.Equal(input, e["inputTokens"]!.GetValue<long>());
        Assert.Equal(output, e["outputTokens"]!.GetValue<long>());
        Assert.Equal(input + output, e["totalTokens"]!.GetValue<long>());
        Assert.Equal(cached, e["cacheReadInputTokens"]!.GetValue<long>());
        Assert.Equal(reasoning, e["reasoningTokens"]!.GetValue<long>());
        Assert.Null(e["cacheWriteInputTokens"]);
        Assert.Null(e["InputTokenDetails.AudioTokenCount"]); // other AdditionalCounts only when listed
        Assert.Equal(LoopbackOpenAIServer.Model, e["Model"]!.GetValue<string>()); // the dated id from the response body
        Assert.Equal(agent, e["Agent"]!.GetValue<string>());
        Assert.Equal("openai", e["Provider"]!.GetValue<string>());
        var directive = e["_aws"]!["CloudWatchMetrics"]![0]!;
        Assert.Equal("Strands/AgentTokenUsage", directive["Namespace"]!.GetValue<string>());
        Assert.Equal("""[["Model","Agent"],["Provider"]]""", directive["Dimensions"]!.ToJsonString());
    }

    [Fact]
    public async Task Chat_client_non_streaming_call_emits_the_response_usage()
    {
        var client = _server.CreateChatClient().AsBuilder().UseTokenTelemetry(HookToTestActor(), agentName: "support-bot").Build();

        var response = await client.GetResponseAsync("hi");

        Assert.Equal("hello from loopback", response.Text);
        AssertEvent(await NextEventAsync(), 120, 45, 100, 30, "support-bot");
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Chat_client_streaming_call_emits_the_usage_of_the_final_chunk()
    {
        var client = _server.CreateChatClient().AsBuilder().UseTokenTelemetry(HookToTestActor(), agentName: "support-bot").Build();

        var text = string.Concat(await client.GetStreamingResponseAsync("hi").Select(u => u.Text).ToListAsync());

        Assert.Equal("hello hello from loopback", text);
        AssertEvent(await NextEventAsync(), 120, 45, 100, 30, "support-bot");
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Outside_UseFunctionInvocation_a_tool_round_trip_is_one_event_summed_over_both_model_calls()
    {
        var client = _server.CreateChatClient().AsBuilder().UseTokenTelemetry(HookToTestActor(), agentName: "weather-bot").UseFunctionInvocation().Build();
        var options = new ChatOptions { Tools = [Weather] };

        var response = await client.GetResponseAsync("weather in Paris?", options);
        Assert.Equal("It is sunny in Paris.", response.Text);
        AssertEvent(await NextEventAsync(), 130, 30, 40, 13, "weather-bot");

        await foreach (var _ in client.GetStreamingResponseAsync("weather in Paris?", options))
        {
        }

        AssertEvent(await NextEventAsync(), 130, 30, 40, 13, "weather-bot");
        Assert.Equal(4, _server.Requests);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Inside_UseFunctionInvocation_a_tool_round_trip_is_one_event_per_model_call()
    {
        var client = _server.CreateChatClient().AsBuilder().UseFunctionInvocation().UseTokenTelemetry(HookToTestActor(), agentName: "weather-bot").Build();

        await client.GetResponseAsync("weather in Paris?", new ChatOptions { Tools = [Weather] });
        await Telemetry.FlushAsync();

        var events = ReceiveN(2).Cast<EmfPayloadEmitted>().Select(m => AkkaTokenTelemetry.Tests.Support.EmfAssert.ValidLine(m.Json)).ToList();
        AssertEvent(events[0], 50, 10, 0, 5, "weather-bot");
        AssertEvent(events[1], 80, 20, 40, 8, "weather-bot");
    }

    [Fact]
    public async Task ChatClientAgent_wrapped_by_the_agent_adapter_emits_one_event_per_run_and_per_streaming_run()
    {
        var agent = _server.CreateChatClient()
            .AsAIAgent(instructions: "You are helpful", name: "weather-agent", tools: [Weather])
            .AsBuilder()
            .UseTokenTelemetry(HookToTestActor())
            .Build();

        var response = await agent.RunAsync("weather in Paris?");
        Assert.Equal("It is sunny in Paris.", response.Text);
        AssertEvent(await NextEventAsync(), 130, 30, 40, 13, "weather-agent");

        var updates = await agent.RunStreamingAsync("weather in Paris?").ToListAsync();
        Assert.Contains("sunny in Paris", string.Concat(updates.Select(u => u.Text)), StringComparison.Ordinal);
        AssertEvent(await NextEventAsync(), 130, 30, 40, 13, "weather-agent");
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Chat_client_adapter_inside_an_agent_takes_the_agent_name_from_the_run_context()
    {
        var agent = _server.CreateChatClient().AsBuilder().UseTokenTelemetry(HookToTestActor()).Build()
            .AsAIAgent(instructions: "You are helpful", name: "context-agent", tools: [Weather]);

        await agent.RunAsync("weather in Paris?");
        await Telemetry.FlushAsync();

        // The agent adds its own function invocation outside the given client: one event per model call.
        var events = ReceiveN(2).Cast<EmfPayloadEmitted>().Select(m => AkkaTokenTelemetry.Tests.Support.EmfAssert.ValidLine(m.Json)).ToList();
        AssertEvent(events[0], 50, 10, 0, 5, "context-agent");
        AssertEvent(events[1], 80, 20, 40, 8, "context-agent");
    }
}
