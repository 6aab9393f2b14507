using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace AkkaTokenTelemetry;

/// <summary>
/// <c>type = http</c>: POSTs each batch as newline-delimited JSON to a URL. A connection error, no answer within
/// <c>timeout</c>, 408, 429 (honouring <c>Retry-After</c>) and 5xx are retried with backoff; any other 4xx refuses the
/// batch for good (dropped and counted as <see cref="DropReasons.Rejected"/>, with the status and the start of the
/// body in the log).
/// </summary>
internal sealed class HttpEmfEmitter : IEmfEmitter, IDisposable
{
    private const int BodyExcerptBytes = 256;

    private readonly HttpEmitterOptions _options;
    private readonly EmitterContext _context;
    private readonly HttpClient _client;
    private readonly EmfLineShaper _shaper = new(EmfLineShaper.MaxLogEventBytes);
    private readonly ArrayBufferWriter<byte> _lines = new(64 * 1024);
    private readonly MediaTypeHeaderValue _contentType;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public HttpEmfEmitter(HttpEmitterOptions options, EmitterContext context)
    {
        _options = options;
        _context = context;
        _contentType = MediaTypeHeaderValue.Parse(options.ContentType);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            AutomaticDecompression = DecompressionMethods.None,
            // A redirect would turn the POST into a body-less GET: never follow one, refuse it (below).
            AllowAutoRedirect = false,
        };
        // The emitter bounds each request itself (timeout, and the attempt's token).
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public async ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        // One request at a time: the shaped body lives in a buffer of this emitter.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await PostAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask PostAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        var body = _shaper.Shape(batch, _lines, _context);
        if (!body.IsEmpty)
        {
            await PostLinesAsync(body, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Posts whole lines. A 413 (body too large for the receiver) splits them at the line boundary nearest the
    /// middle and posts each half; a single event the receiver still refuses is dropped and counted as too_large.
    /// </summary>
    private async ValueTask PostLinesAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (await TryPostAsync(body, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var lines = body.Span[..^1];
        var middle = lines.Length / 2;
        var before = lines[..middle].LastIndexOf((byte)'\n');
        var after = lines[middle..].IndexOf((byte)'\n');
        var split = before >= 0 ? before + 1 : after >= 0 ? middle + after + 1 : -1;
        if (split < 0)
        {
            _context.EventRefusedAsTooLarge(body.Length - 1);
            return;
        }

        await PostLinesAsync(body[..split], cancellationToken).ConfigureAwait(false);
        await PostLinesAsync(body[split..], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One POST: true when accepted, false on 413; throws for every other failure.</summary>
    private async ValueTask<bool> TryPostAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _options.Url) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = _contentType;
        foreach (var (name, value) in _options.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EmfDeliveryException($"POST to {_options.Url} got no answer within timeout ({_options.Timeout}).", e);
        }
        catch (HttpRequestException e)
        {
            throw new EmfDeliveryException($"POST to {_options.Url} failed: {e.Message}", e);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return true;
            }

            if (status == 413)
            {
                return false;
            }

            if (status is 408 or 429 or >= 500)
            {
                throw new EmfDeliveryException($"POST to {_options.Url} answered {status} {response.ReasonPhrase}; retrying.")
                {
                    RetryAfter = RetryAfter(response),
                };
            }

            if (status is >= 300 and < 400)
            {
                throw new EmfDeliveryException($"POST to {_options.Url} answered {status} {response.ReasonPhrase}, a redirect to {response.Headers.Location?.ToString() ?? "(no Location)"}; redirects are not followed — configure the final URL.") { IsPermanent = true };
            }

            var excerpt = await ReadExcerptAsync(response, timeout.Token).ConfigureAwait(false);
            throw new EmfDeliveryException($"POST to {_options.Url} answered {status} {response.ReasonPhrase}: {excerpt}") { IsPermanent = true };
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _gate.Dispose();
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - _context.Time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }

    /// <summary>The first bytes of the body, as text on one line, for the log.</summary>
    private static async Task<string> ReadExcerptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[BodyExcerptBytes];
                var read = 0;
                while (read < buffer.Length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }

                var text = Encoding.UTF8.GetString(buffer, 0, read).ReplaceLineEndings(" ");
                return read == 0 ? "(empty body)" : string.Create(CultureInfo.InvariantCulture, $"\"{text}\"{(read == buffer.Length ? "…" : string.Empty)}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return $"(body unreadable: {e.Message})";
        }
    }
}
