using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>
/// A real HTTP server (Kestrel) on 127.0.0.1, port chosen by the OS, that answers POSTs from a script: each
/// request takes the next scripted reply (the last one repeats). A reply can also never come (a hung server).
/// </summary>
public sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Reply> _script;
    private readonly Reply _last;
    private readonly CancellationTokenSource _hang = new();

    private LoopbackHttpServer(WebApplication app, IEnumerable<Reply> script)
    {
        _app = app;
        _script = new ConcurrentQueue<Reply>(script);
        _last = _script.Last();
    }

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<Request> Requests { get; } = new();

    public string Url { get; private set; } = string.Empty;

    public static async Task<LoopbackHttpServer> StartAsync(params Reply[] script)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new LoopbackHttpServer(app, script);
        app.MapPost("/emf", server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = $"{address}/emf";
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        _hang.Cancel();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
        _hang.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        Requests.Enqueue(new Request(
            body,
            context.Request.ContentType,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            Stopwatch.GetTimestamp()));
        var reply = _script.TryDequeue(out var next) ? next : _last;
        if (reply.MaxBodyBytes is { } max && Encoding.UTF8.GetByteCount(body) > max)
        {
            // This reply stays in force for the next request too.
            context.Response.StatusCode = 413;
            return;
        }

        if (reply.Hang)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(_hang.Token, context.RequestAborted).Token);
            }
            catch (OperationCanceledException)
            {
            }

            return;
        }

        context.Response.StatusCode = reply.Status;
        if (reply.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        if (reply.Location is { } location)
        {
            context.Response.Headers.Location = location;
        }

        if (reply.Body is { } text)
        {
            await context.Response.WriteAsync(text);
        }
    }

    /// <summary>A scripted reply.</summary>
    public sealed record Reply(int Status, string? Body = null, string? RetryAfter = null, bool Hang = false, string? Location = null, int? MaxBodyBytes = null)
    {
        public static Reply Ok { get; } = new(200);

        public static Reply NeverAnswers { get; } = new(0, Hang: true);
    }

    /// <summary>What a request carried.</summary>
    public sealed record Request(string Body, string? ContentType, IReadOnlyDictionary<string, string> Headers, long ReceivedAt);
}
