using Akka.Event;
using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace AkkaTokenTelemetry;

/// <summary>
/// <c>type = cloudwatch-agent</c>: sends each event as a UTF-8 line to the CloudWatch agent's EMF listener over TCP
/// or UDP, with <c>_aws.LogGroupName</c> (and <c>LogStreamName</c> when configured) added to every line.
/// </summary>
/// <remarks>
/// <para>TCP: one connection, opened on demand and reopened after a failure (the sink's retries give the backoff).
/// The agent never answers on this connection, so a write can succeed into a connection the agent has already
/// closed. Before each write the connection is checked; what was written during the last <c>resend-window</c>
/// (at most <c>resend-buffer</c> bytes) is kept, and sent again on the next connection when the old one turns out
/// to be closed. Delivery is therefore at least once: after an agent restart a few events may arrive twice, and
/// none is silently lost.</para>
/// <para>UDP: whole lines packed into datagrams of at most 65,507 bytes.</para>
/// <para>One instance lives as long as the pipeline (it is not replaced when the sink restarts), so what waits to be
/// resent survives a restart of the sink.</para>
/// </remarks>
internal sealed class CloudWatchAgentEmitter : IEmfEmitter, IAsyncDisposable
{
    private readonly AgentEmitterOptions _options;
    private readonly EmitterContext _context;
    private readonly EmfLineShaper _shaper;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ArrayBufferWriter<byte> _lines = new(64 * 1024);
    private readonly LinkedList<Written> _window = new();
    private long _windowBytes;
    private readonly ITimer? _confirmTimer;
    private Socket? _socket;
    private bool _outage;
    private bool _disposed;

    public CloudWatchAgentEmitter(AgentEmitterOptions options, EmitterContext context)
    {
        _options = options;
        _context = context;
        if (!options.IsUdp)
        {
            // While no batch comes, still check the connection now and then: writes are confirmed while it stays
            // open, and a close is noticed (and what it may have lost resent with the next batch) without delay.
            var period = options.ResendWindow / 2;
            _confirmTimer = context.Time.CreateTimer(static state => ((CloudWatchAgentEmitter)state!).CheckIdleConnection(), this, period, period);
        }

        // A datagram holds at least one whole line and its newline.
        _shaper = new EmfLineShaper(options.IsUdp ? EmfLineShaper.MaxDatagramBytes - 1 : EmfLineShaper.MaxAgentEventBytes, options.LogGroupName, options.LogStreamName);
    }

    /// <summary>Bytes written on a connection that are not yet known to have reached the agent (for tests).</summary>
    internal long UnconfirmedBytes => Volatile.Read(ref _windowBytes);

    public async ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var lines = _shaper.Shape(batch, _lines, _context);
            if (lines.IsEmpty)
            {
                return;
            }

            if (_options.IsUdp)
            {
                await SendDatagramsAsync(lines, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await SendStreamAsync(lines, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_confirmTimer is not null)
        {
            await _confirmTimer.DisposeAsync().ConfigureAwait(false);
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (!_options.IsUdp && _window.Count > 0 && (_socket is null || !IsOpen(_socket)))
            {
                // The agent closed the connection after our last write (or a write failed): one last try to resend
                // what it may have lost.
                Close();
                try
                {
                    using var last = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await ConnectAndResendAsync(last.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or EmfDeliveryException)
                {
                    _context.Log.Warning(
                        "Token telemetry emitter '{0}': the CloudWatch agent at {1} closed the connection and could not be reached again at shutdown; {2} bytes of recent events may not have arrived.",
                        _context.Name,
                        _options.Endpoint,
                        _windowBytes);
                }
            }

            if (_socket is { } socket && !_options.IsUdp)
            {
                try
                {
                    // Send what is queued, then FIN.
                    socket.Shutdown(SocketShutdown.Send);
                }
                catch (SocketException)
                {
                }
            }

            Close();
            ClearWindow();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask SendStreamAsync(ReadOnlyMemory<byte> lines, CancellationToken cancellationToken)
    {
        var now = _context.Time.GetTimestamp();
        if (_socket is not null && !IsOpen(_socket))
        {
            _context.Log.Warning(
                "Token telemetry emitter '{0}': the CloudWatch agent at {1} closed the connection; reconnecting and resending the {2} bytes written in the last {3}.",
                _context.Name,
                _options.Endpoint,
                _windowBytes,
                _options.ResendWindow);
            Close();
        }

        if (_socket is not null)
        {
            // The connection is still open now: what was written long enough ago has been read by the agent.
            Confirm(now);
        }

        if (_socket is null)
        {
            // A new connection: first what may not have reached the agent on the old one, then this batch.
            await ConnectAndResendAsync(cancellationToken).ConfigureAwait(false);
        }

        await WriteAsync(lines, cancellationToken).ConfigureAwait(false);

        // Written: keep a copy until it is old enough to count as read.
        var copy = ArrayPool<byte>.Shared.Rent(lines.Length);
        lines.CopyTo(copy);
        _window.AddLast(new Written(copy, lines.Length, _context.Time.GetTimestamp()));
        _windowBytes += lines.Length;

        // Bound the window: beyond resend-buffer, the oldest writes are given up on (counted as read).
        while (_windowBytes > _options.ResendBuffer && _window.Count > 1)
        {
            if (_context.Time.GetElapsedTime(_window.First!.Value.WrittenAt) < _options.ResendWindow)
            {
                _context.WarnOnce(
                    "resend-buffer",
                    $"Token telemetry emitter '{_context.Name}' writes more than resend-buffer ({_options.ResendBuffer} bytes) within resend-window ({_options.ResendWindow}); the oldest of them can no longer be resent after an agent restart. Raise resend-buffer to keep them.");
            }

            RemoveFirst();
        }
    }

    /// <summary>The idle check: confirms old writes while the connection is open; notices a close.</summary>
    private void CheckIdleConnection()
    {
        if (!_gate.Wait(0))
        {
            return; // a batch is being sent: it checks the connection itself
        }

        try
        {
            if (_disposed || _socket is null)
            {
                return;
            }

            if (IsOpen(_socket))
            {
                Confirm(_context.Time.GetTimestamp());
            }
            else
            {
                _context.Log.Warning(
                    "Token telemetry emitter '{0}': the CloudWatch agent at {1} closed the connection; the {2} bytes written in the last {3} are resent with the next batch (or at shutdown).",
                    _context.Name,
                    _options.Endpoint,
                    _windowBytes,
                    _options.ResendWindow);
                Close();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Opens a connection and sends everything in the window on it, oldest first.</summary>
    private async ValueTask ConnectAndResendAsync(CancellationToken cancellationToken)
    {
        _socket = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        if (_outage)
        {
            _outage = false;
            _context.Log.Info("Token telemetry emitter '{0}' reconnected to the CloudWatch agent at {1}.", _context.Name, _options.Endpoint);
        }

        var now = _context.Time.GetTimestamp();
        var resent = _window.Count;
        for (var node = _window.First; node is not null; node = node.Next)
        {
            await WriteAsync(node.Value.Data.AsMemory(0, node.Value.Length), cancellationToken).ConfigureAwait(false);
            node.Value = node.Value with { WrittenAt = now };
        }

        if (resent > 0)
        {
            _context.Log.Info("Token telemetry emitter '{0}' resent {1} recent writes to the CloudWatch agent at {2} on a new connection.", _context.Name, resent, _options.Endpoint);
        }
    }

    private async ValueTask<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (IPAddress.TryParse(_options.Host, out var address))
            {
                await socket.ConnectAsync(address, _options.Port, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await socket.ConnectAsync(_options.Host, _options.Port, cancellationToken).ConfigureAwait(false);
            }

            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            if (!_outage)
            {
                _outage = true;
                _context.Log.Warning(
                    "Token telemetry emitter '{0}' cannot connect to the CloudWatch agent at {1} ({2}); batches are retried with backoff.",
                    _context.Name,
                    _options.Endpoint,
                    e.SocketErrorCode);
            }

            throw new EmfDeliveryException($"Cannot connect to the CloudWatch agent at {_options.Endpoint}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            while (!data.IsEmpty)
            {
                var sent = await _socket!.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                data = data[sent..];
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Part of a line may have gone out: reset the connection (rather than close it cleanly) so the agent
            // drops that partial line instead of reading it; the next attempt reconnects and resends.
            Abort();
            if (e is OperationCanceledException)
            {
                throw;
            }

            throw new EmfDeliveryException($"Writing to the CloudWatch agent at {_options.Endpoint} failed: {e.Message}", e);
        }
    }

    private async ValueTask SendDatagramsAsync(ReadOnlyMemory<byte> lines, CancellationToken cancellationToken)
    {
        try
        {
            if (_socket is null)
            {
                var address = IPAddress.TryParse(_options.Host, out var ip) ? ip : await ResolveAsync(cancellationToken).ConfigureAwait(false);
                var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                try
                {
                    await socket.ConnectAsync(address, _options.Port, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }

                _socket = socket;
            }

            // Whole lines, as many as fit in one datagram.
            while (!lines.IsEmpty)
            {
                var take = 0;
                var span = lines.Span;
                while (take < span.Length)
                {
                    var next = take + span[take..].IndexOf((byte)'\n') + 1;
                    if (next > EmfLineShaper.MaxDatagramBytes && take > 0)
                    {
                        break;
                    }

                    take = next;
                }

                await _socket.SendAsync(lines[..take], SocketFlags.None, cancellationToken).ConfigureAwait(false);
                lines = lines[take..];
            }
        }
        catch (SocketException e)
        {
            Close();
            throw new EmfDeliveryException($"Sending to the CloudWatch agent at {_options.Endpoint} failed: {e.Message}", e);
        }
    }

    /// <summary>The host's address for UDP, IPv4 first (the agent listens on IPv4 by default).</summary>
    private async Task<IPAddress> ResolveAsync(CancellationToken cancellationToken)
    {
        var addresses = await Dns.GetHostAddressesAsync(_options.Host, cancellationToken).ConfigureAwait(false);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new EmfDeliveryException($"The CloudWatch agent host in {_options.Endpoint} resolves to no address.");
    }

    /// <summary>Whether the agent still holds the connection open (it never sends, so anything readable means it closed).</summary>
    private static bool IsOpen(Socket socket)
    {
        try
        {
            if (!socket.Poll(0, SelectMode.SelectRead) && !socket.Poll(0, SelectMode.SelectError))
            {
                return true;
            }

            if (socket.Available == 0)
            {
                return false;
            }

            // The agent sent something (it does not, normally): discard it, the connection is open.
            Span<byte> discard = stackalloc byte[512];
            while (socket.Available > 0)
            {
                if (socket.Receive(discard) == 0)
                {
                    return false;
                }
            }

            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Forgets the writes older than resend-window: the connection was still open well after them.</summary>
    private void Confirm(long now)
    {
        while (_window.First is { } first && _context.Time.GetElapsedTime(first.Value.WrittenAt, now) >= _options.ResendWindow)
        {
            RemoveFirst();
        }
    }

    private void RemoveFirst()
    {
        var first = _window.First!.Value;
        _window.RemoveFirst();
        _windowBytes -= first.Length;
        ArrayPool<byte>.Shared.Return(first.Data);
    }

    private void ClearWindow()
    {
        while (_window.First is not null)
        {
            RemoveFirst();
        }
    }

    private void Close()
    {
        _socket?.Dispose();
        _socket = null;
    }

    /// <summary>Closes with a reset (linger 0): nothing still queued in the socket is delivered.</summary>
    private void Abort()
    {
        try
        {
            _socket?.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        Close();
    }

    /// <summary>Bytes written to the agent, kept until they are old enough to count as read.</summary>
    private readonly record struct Written(byte[] Data, int Length, long WrittenAt);
}
