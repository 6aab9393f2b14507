using System.ClientModel;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OpenAI;

namespace AkkaTokenTelemetry.Extensions.AI.Tests.Support;

/// <summary>
/// An OpenAI-compatible chat-completions server on 127.0.0.1 (OS-chosen port) serving canned JSON and SSE with
/// usage. A request with tools and no tool result gets a <c>get_weather</c> tool call (usage 50/10, cached 0,
/// reasoning 5); a request carrying a tool result gets the final answer (80/20, cached 40, reasoning 8); any other
/// request gets a plain answer (120/45, cached 100, reasoning 30). Every response names <see cref="Model"/>.
/// </summary>
public sealed class LoopbackOpenAIServer : IAsyncDisposable
{
    public const string Model = "gpt-4o-mini-2024-07-18";
    public const string RequestedModel = "gpt-4o-mini";

    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private int _requests;

    public LoopbackOpenAIServer()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The real OpenAI client, as an <see cref="IChatClient"/>, pointed at this server.</summary>
    public IChatClient CreateChatClient() =>
        new OpenAIClient(new ApiKeyCredential("test-key"), new OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{Port}/v1") })
            .GetChatClient(RequestedModel)
            .AsIChatClient();

    private static JsonObject Usage(int prompt, int completion, int cached, int reasoning) => new()
    {
        ["prompt_tokens"] = prompt,
        ["completion_tokens"] = completion,
        ["total_tokens"] = prompt + completion,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached, ["audio_tokens"] = 0 },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reasoning, ["audio_tokens"] = 0, ["accepted_prediction_tokens"] = 0, ["rejected_prediction_tokens"] = 0 },
    };

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }

            try
            {
                await AnswerAsync(context);
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        Interlocked.Increment(ref _requests);
        using var reader = new StreamReader(context.Request.InputStream);
        var body = JsonNode.Parse(await reader.ReadToEndAsync())!;
        var stream = body["stream"]?.GetValue<bool>() == true;
        var hasToolResult = body["messages"]!.AsArray().Any(m => m!["role"]!.GetValue<string>() == "tool");
        var wantsTool = body["tools"] is JsonArray { Count: > 0 } && !hasToolResult;
        var usage = wantsTool ? Usage(50, 10, 0, 5) : hasToolResult ? Usage(80, 20, 40, 8) : Usage(120, 45, 100, 30);
        var text = hasToolResult ? "It is sunny in Paris." : "hello from loopback";
        context.Response.StatusCode = 200;
        if (!stream)
        {
            JsonObject message = wantsTool
                ? new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(ToolCall("{\"city\":\"Paris\"}", withName: true)) }
                : new JsonObject { ["role"] = "assistant", ["content"] = text };
            var response = new JsonObject
            {
                ["id"] = "chatcmpl-1",
                ["object"] = "chat.completion",
                ["created"] = 1700000000,
                ["model"] = Model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = wantsTool ? "tool_calls" : "stop" }),
                ["usage"] = usage,
            };
            var bytes = Encoding.UTF8.GetBytes(response.ToJsonString());
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
        }
        else
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.SendChunked = true;
            var chunks = new List<JsonObject>();
            if (wantsTool)
            {
                chunks.Add(Chunk(new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(ToolCall(string.Empty, withName: true)) }, null));
                chunks.Add(Chunk(new JsonObject { ["tool_calls"] = new JsonArray(ToolCall("{\"city\":\"Paris\"}", withName: false)) }, null));
                chunks.Add(Chunk(new JsonObject(), "tool_calls"));
            }
            else
            {
                chunks.Add(Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "hello " }, null));
                chunks.Add(Chunk(new JsonObject { ["content"] = text }, null));
                chunks.Add(Chunk(new JsonObject(), "stop"));
            }

            if (body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
            {
                var last = Envelope(new JsonArray());
                last["usage"] = usage;
                chunks.Add(last);
            }

            foreach (var chunk in chunks)
            {
                await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes("data: " + chunk.ToJsonString() + "\n\n"));
                await context.Response.OutputStream.FlushAsync();
            }

            await context.Response.OutputStream.WriteAsync("data: [DONE]\n\n"u8.ToArray());
        }

        context.Response.Close();
    }

    private static JsonObject ToolCall(string arguments, bool withName)
    {
        var function = new JsonObject { ["arguments"] = arguments };
        if (withName)
        {
            function["name"] = "get_weather";
            return new JsonObject { ["index"] = 0, ["id"] = "call_1", ["type"] = "function", ["function"] = function };
        }

        return new JsonObject { ["index"] = 0, ["function"] = function };
    }

    private static JsonObject Chunk(JsonObject delta, string? finishReason) =>
        Envelope(new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }));

    private static JsonObject Envelope(JsonArray choices) => new()
    {
        ["id"] = "chatcmpl-2",
        ["object"] = "chat.completion.chunk",
        ["created"] = 1700000000,
        ["model"] = Model,
        ["choices"] = choices,
        ["usage"] = null,
    };

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _serving;
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
