using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MultiAgentServer;

/// <summary>
/// An OpenAI-compatible chat-completions server on 127.0.0.1 (a free port the OS picks), answering from the
/// <see cref="Script"/>: the task number in the request's user message selects the scripted turn. A request with
/// tools and no tool result gets the tool call when the turn has one; every other request gets the answer. Each
/// response carries the scripted usage and the dated model id, as JSON or as server-sent events (with usage in the
/// last chunk when the client asks for it, as the OpenAI client does).
/// </summary>
internal sealed partial class LoopbackOpenAIServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private readonly Dictionary<string, string> _servedModels;
    private int _requests;
    private int _failures;

    public LoopbackOpenAIServer()
    {
        _servedModels = Script.Models.ToDictionary(m => m.Requested, m => m.Served, StringComparer.Ordinal);

        // HttpListener cannot bind port 0: take a free port from the OS first.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>The base address an OpenAI client is given.</summary>
    public Uri Endpoint => new($"http://127.0.0.1:{Port}/v1");

    /// <summary>Requests answered so far (model calls).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests the server could not answer from the script (answered with HTTP 400).</summary>
    public int Failures => Volatile.Read(ref _failures);

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }

            // Many agents call at once: answer each request on its own.
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        try
        {
            string text;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
            {
                text = await reader.ReadToEndAsync().ConfigureAwait(false);
            }

            var body = JsonNode.Parse(text)!.AsObject();
            var requested = body["model"]?.GetValue<string>() ?? string.Empty;
            var task = TaskTag().Match(text);
            if (!_servedModels.TryGetValue(requested, out var served) || !task.Success)
            {
                Interlocked.Increment(ref _failures);
                await WriteAsync(context, 400, "application/json", """{"error":{"message":"not in the script","type":"invalid_request_error"}}""").ConfigureAwait(false);
                return;
            }

            Interlocked.Increment(ref _requests);
            var turn = Script.Turn(int.Parse(task.Groups[1].ValueSpan, CultureInfo.InvariantCulture), served);
            var hasToolResult = body["messages"]!.AsArray().Any(m => m?["role"]?.GetValue<string>() == "tool");
            var tool = body["tools"] is JsonArray { Count: > 0 } tools ? tools[0]!["function"]!["name"]!.GetValue<string>() : null;
            var callTool = tool is not null && turn.ToolCall is not null && !hasToolResult;
            var usage = callTool ? turn.ToolCall!.Value : turn.Answer;
            var answer = $"Done with task {turn.Task}.";
            var arguments = $$"""{"query":"task {{turn.Task}}"}""";

            if (body["stream"]?.GetValue<bool>() != true)
            {
                JsonObject message = callTool
                    ? new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(ToolCall(tool!, arguments)) }
                    : new JsonObject { ["role"] = "assistant", ["content"] = answer };
                var response = Envelope("chat.completion", served, new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = message,
                    ["finish_reason"] = callTool ? "tool_calls" : "stop",
                }));
                response["usage"] = Usage(usage);
                await WriteAsync(context, 200, "application/json", response.ToJsonString()).ConfigureAwait(false);
                return;
            }

            var sse = new StringBuilder();
            void Chunk(JsonObject delta, string? finishReason) => sse.Append("data: ").Append(Envelope("chat.completion.chunk", served, new JsonArray(
                new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason })).ToJsonString()).Append("\n\n");

            if (callTool)
            {
                Chunk(new JsonObject { ["role"] = "assistant", ["tool_calls"] = new JsonArray(ToolCall(tool!, arguments)) }, null);
                Chunk(new JsonObject(), "tool_calls");
            }
            else
            {
                Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "Done " }, null);
                Chunk(new JsonObject { ["content"] = answer[5..] }, null);
                Chunk(new JsonObject(), "stop");
            }

            if (body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
            {
                var last = Envelope("chat.completion.chunk", served, []);
                last["usage"] = Usage(usage);
                sse.Append("data: ").Append(last.ToJsonString()).Append("\n\n");
            }

            sse.Append("data: [DONE]\n\n");
            await WriteAsync(context, 200, "text/event-stream", sse.ToString()).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // a broken request must not stop the server; the client sees the failure
        catch (Exception)
        {
            Interlocked.Increment(ref _failures);
            context.Response.Abort();
        }
#pragma warning restore CA1031
    }

    private static async Task WriteAsync(HttpListenerContext context, int status, string contentType, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        context.Response.Close();
    }

    private static JsonObject Envelope(string kind, string model, JsonArray choices) => new()
    {
        ["id"] = "chatcmpl-" + Guid.NewGuid().ToString("N")[..12],
        ["object"] = kind,
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = model,
        ["choices"] = choices,
    };

    private static JsonObject ToolCall(string name, string arguments) => new()
    {
        ["index"] = 0,
        ["id"] = "call_" + Guid.NewGuid().ToString("N")[..12],
        ["type"] = "function",
        ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments },
    };

    private static JsonObject Usage(CallUsage usage) => new()
    {
        ["prompt_tokens"] = usage.Prompt,
        ["completion_tokens"] = usage.Completion,
        ["total_tokens"] = usage.Prompt + usage.Completion,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = usage.Cached, ["audio_tokens"] = 0 },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = usage.Reasoning, ["audio_tokens"] = 0 },
    };

    [GeneratedRegex(@"\[task (\d+)\]")]
    private static partial Regex TaskTag();

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving.ConfigureAwait(false);
    }
}
