using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace AkkaTokenTelemetry.Extensions.AI.Tests.Support;

/// <summary>README ("Forward to an external service"): posts each batch as newline-delimited JSON; a failure throws, so the pipeline retries the batch.</summary>
public sealed class HttpForwardingEmitter(HttpClient http, Uri endpoint) : IEmfEmitter
{
    public async ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(batch.Utf8Lines.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using var response = await http.PostAsync(endpoint, content, cancellationToken);
        response.EnsureSuccessStatusCode();
    }
}

/// <summary>A loopback HTTP service that answers 202 to every POST and keeps each body's lines with the request's content type.</summary>
public sealed class NdjsonCollector : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<(string? ContentType, string Line)> _lines = new();
    private readonly Task _loop;

    public NdjsonCollector()
    {
        var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var port = ((IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        Endpoint = new Uri($"http://127.0.0.1:{port}/ingest");
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>Where to POST.</summary>
    public Uri Endpoint { get; }

    /// <summary>Every line received so far, in order, with the content type of its request.</summary>
    public IReadOnlyCollection<(string? ContentType, string Line)> Lines => _lines;

    public void Dispose()
    {
        _listener.Close();
        _ = _loop.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // closed
            }

            using (var reader = new StreamReader(context.Request.InputStream))
            {
                var body = await reader.ReadToEndAsync();
                foreach (var line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    _lines.Enqueue((context.Request.ContentType, line));
                }
            }

            context.Response.StatusCode = 202;
            context.Response.Close();
        }
    }
}
