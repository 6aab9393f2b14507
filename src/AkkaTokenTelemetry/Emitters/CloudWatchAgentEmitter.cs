using Akka.Event;
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace AkkaTokenTelemetry;

/// <summary>
/// <c>type = cloudwatch-agent</c>: sends each event as a UTF-8 line to the CloudWatch agent's EMF listener over TCP
/// or UDP, with <c>_aws.LogGroupName</c> (and <c>LogStreamName</c> when configured) added to every line.
/// </summary>
/// <remarks>
/// <para>TCP: one connection, opened on demand and reopened after a failure (the sink's retries give the backoff).
/// The agent never answers on this connection, so a successful write proves nothing: it can go into a connection the
/// agent has already closed. A batch therefore counts as delivered only once the agent's host has acknowledged every
/// byte of it (TCP ACK, read from the kernel's <c>TCP_INFO</c> on Linux; elsewhere, once it is written into a
/// connection that is still open). A batch not acknowledged when the connection turns out closed fails its attempt
/// and is resent on the next connection, never written twice into the same one.</para>
/// <para>Acknowledged is not yet read: an agent that dies loses what it had not read. So what was acknowledged
/// during the last <c>resend-window</c> (at most <c>resend-buffer</c> bytes) is kept and sent again, first, on the
/// next connection, whether the next batch opens it or the idle check does (every half <c>resend-window</c>, while
/// no batch comes). Delivery is at least once: after an agent restart a few events may arrive twice.</para>
/// <para>A peer that stops acknowledging (its host vanished without closing the connection) is noticed after
/// <c>unacknowledged-timeout</c>: the connection is reset, and the next attempt reconnects and resends.</para>
/// <para>At shutdown the connection is half-closed and the emitter waits, briefly, for the agent to close its side,
/// which it does once it has read everything; if it does not, the records that may not have arrived are logged.</para>
/// <para>UDP: whole lines packed into datagrams of at most 65,507 bytes.</para>
/// <para>One instance lives as long as the pipeline (it is not replaced when the sink restarts), so what waits to be
/// resent survives a restart of the sink.</para>
/// </remarks>
internal sealed class CloudWatchAgentEmitter : IEmfEmitter, IAsyncDisposable
{
    /// <summary>How long shutdown waits for a reconnection, and then for the agent to close its side after reading.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>The longest pause between two looks at the acknowledged byte count (a delayed ACK takes up to 40 ms).</summary>
    private static readonly TimeSpan MaxAcknowledgementPoll = TimeSpan.FromMilliseconds(5);

    private readonly AgentEmitterOptions _options;
    private readonly EmitterContext _context;
    private readonly EmfLineShaper _shaper;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ArrayBufferWriter<byte> _lines = new(64 * 1024);
    private readonly LinkedList<Written> _window = new();
    private long _windowBytes;
    private readonly ITimer? _idleTimer;
    private Socket? _socket;

    /// <summary>Bytes written on the current connection: the offsets acknowledgements are compared with.</summary>
    private long _written;

    /// <summary>Bytes of the current connection acknowledged so far, and when that count last grew.</summary>
    private long _acknowledged;
    private long _acknowledgedGrewAt;

    /// <summary>The batch in hand and its bytes in the window, so that a retry never writes it a second time.</summary>
    private (EmfBatch Batch, Written Entry)? _pending;
    private bool _outage;
    private bool _disposed;

    /// <summary>Set once TCP_INFO turned out not to count acknowledged bytes here: writes count as acknowledged.</summary>
    private bool _tcpInfoUnusable;

    public CloudWatchAgentEmitter(AgentEmitterOptions options, EmitterContext context)
    {
        _options = options;
        _context = context;
        if (!options.IsUdp)
        {
            // While no batch comes, still look at the connection now and then: acknowledgements are noted, and a
            // close is noticed (and what it may have lost resent) without waiting for the next batch.
            var period = options.ResendWindow / 2;
            _idleTimer = context.Time.CreateTimer(static state => _ = ((CloudWatchAgentEmitter)state!).CheckIdleConnectionAsync(), this, period, period);
        }

        // A datagram holds at least one whole line and its newline.
        _shaper = new EmfLineShaper(options.IsUdp ? EmfLineShaper.MaxDatagramBytes - 1 : EmfLineShaper.MaxAgentEventBytes, options.LogGroupName, options.LogStreamName);
    }

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
                await SendStreamAsync(batch, lines, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_idleTimer is not null)
        {
            await _idleTimer.DisposeAsync().ConfigureAwait(false);
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (!_options.IsUdp && (_socket is not null || _window.Count > 0))
            {
                await CloseGracefullyAsync().ConfigureAwait(false);
            }

            Close();
            ClearWindow();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask SendStreamAsync(EmfBatch batch, ReadOnlyMemory<byte> lines, CancellationToken cancellationToken)
    {
        if (_pending is { } pending && !ReferenceEquals(pending.Batch, batch))
        {
            // The previous batch was settled without this emitter's success (dropped after its retries): its bytes
            // stay in the window, and reach the agent with the rest, but this is a new batch.
            _pending = null;
        }

        if (_pending is { } settled && settled.Entry.Node.List is null && settled.Entry.AcknowledgedAt != 0)
        {
            // Its attempt gave up waiting, then the idle check saw it acknowledged and, resend-window later, read:
            // this retry has nothing left to send.
            _pending = null;
            return;
        }

        await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);

        Written entry;
        if (_pending is { } retry && retry.Entry.Node.List is not null)
        {
            // A retry of a batch already written (on this connection, or resent on the new one): wait for it.
            entry = retry.Entry;
        }
        else
        {
            entry = Keep(lines, batch.RecordCount);
            _pending = (batch, entry);
            await WriteAsync(lines, entry, cancellationToken).ConfigureAwait(false);
        }

        await WaitForAcknowledgementAsync(entry, cancellationToken).ConfigureAwait(false);
        _pending = null;
        Forget(_context.Time.GetTimestamp());
    }

    /// <summary>Reopens a connection the agent closed, resending on the new one what the old one may have lost.</summary>
    private async ValueTask EnsureConnectedAsync(CancellationToken cancellationToken)
    {
        if (_socket is not null && !IsOpen(_socket))
        {
            _context.Log.Warning(
                "Token telemetry emitter '{0}': the CloudWatch agent at {1} closed the connection; reconnecting and resending the {2} records it may not have read.",
                _context.Name,
                _options.Endpoint,
                WindowRecords());
            Close();
        }

        if (_socket is null)
        {
            await ConnectAndResendAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Keeps a copy of <paramref name="lines"/> in the window until the agent has surely read them.</summary>
    private Written Keep(ReadOnlyMemory<byte> lines, int records)
    {
        var copy = ArrayPool<byte>.Shared.Rent(lines.Length);
        lines.CopyTo(copy);
        var entry = new Written(copy, lines.Length, records);
        entry.Node = _window.AddLast(entry);
        _windowBytes += lines.Length;

        // Bound the window: beyond resend-buffer, the oldest are given up on (they can no longer be resent).
        while (_windowBytes > _options.ResendBuffer && _window.Count > 1)
        {
            if (_window.First!.Value.AcknowledgedAt == 0 || _context.Time.GetElapsedTime(_window.First.Value.AcknowledgedAt) < _options.ResendWindow)
            {
                _context.WarnOnce(
                    "resend-buffer",
                    $"Token telemetry emitter '{_context.Name}' writes more than resend-buffer ({_options.ResendBuffer} bytes) within resend-window ({_options.ResendWindow}); the oldest of them can no longer be resent after an agent restart. Raise resend-buffer to keep them.");
            }

            RemoveFirst();
        }

        return entry;
    }

    /// <summary>
    /// Waits until the agent's host has acknowledged every byte of <paramref name="entry"/>. A connection that closes
    /// meanwhile fails the attempt: the entry stays in the window and goes out again on the next connection.
    /// </summary>
    private async ValueTask WaitForAcknowledgementAsync(Written entry, CancellationToken cancellationToken)
    {
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            MarkAcknowledged(AcknowledgedBytes(_socket!) ?? _written);
            if (entry.AcknowledgedAt != 0)
            {
                return;
            }

            if (IsStalled())
            {
                AbortStalled();
                throw new EmfDeliveryException(
                    $"The CloudWatch agent at {_options.Endpoint} acknowledged nothing for {_options.UnacknowledgedTimeout}; the connection was reset and the batch is sent again on a new one.");
            }

            if (!IsOpen(_socket!))
            {
                Close();
                throw new EmfDeliveryException(
                    $"The CloudWatch agent at {_options.Endpoint} closed the connection before acknowledging a batch; it is sent again on a new connection.");
            }

            await Task.Delay(pause, _context.Time, cancellationToken).ConfigureAwait(false);
            pause = pause * 2 < MaxAcknowledgementPoll ? pause * 2 : MaxAcknowledgementPoll;
        }
    }

    /// <summary>The idle check: notes acknowledgements while the connection is open; reconnects and resends after a close.</summary>
    private async Task CheckIdleConnectionAsync()
    {
        if (!await _gate.WaitAsync(0).ConfigureAwait(false))
        {
            return; // a batch is being sent: it looks at the connection itself
        }

        try
        {
            if (_disposed)
            {
                return;
            }

            if (_socket is not null)
            {
                if (IsOpen(_socket))
                {
                    MarkAcknowledged(AcknowledgedBytes(_socket) ?? _written);
                    if (!IsStalled())
                    {
                        Forget(_context.Time.GetTimestamp());
                        return;
                    }

                    AbortStalled();
                }
                else
                {
                    _context.Log.Warning(
                        "Token telemetry emitter '{0}': the CloudWatch agent at {1} closed the connection; reconnecting to resend the {2} records it may not have read.",
                        _context.Name,
                        _options.Endpoint,
                        WindowRecords());
                    Close();
                }
            }

            if (_window.Count == 0)
            {
                return; // nothing to resend: the next batch opens a connection
            }

            using var attempt = new CancellationTokenSource(_options.ResendWindow);
            await ConnectAndResendAsync(attempt.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EmfDeliveryException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Not reachable yet (logged once per outage): the next check, or the next batch, tries again.
        }
        catch (Exception e)
        {
            // A timer callback: nothing above it would see this. The next check, or the next batch, tries again.
            _context.Log.Warning(e, "Token telemetry emitter '{0}': checking the connection to the CloudWatch agent at {1} failed.", _context.Name, _options.Endpoint);
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
        _written = 0;
        _acknowledged = 0;
        _acknowledgedGrewAt = _context.Time.GetTimestamp();
        if (_outage)
        {
            _outage = false;
            _context.Log.Info("Token telemetry emitter '{0}' reconnected to the CloudWatch agent at {1}.", _context.Name, _options.Endpoint);
        }

        var records = WindowRecords();
        for (var node = _window.First; node is not null; node = node.Next)
        {
            node.Value.AcknowledgedAt = 0; // acknowledged on the old connection only: it must be again
            await WriteAsync(node.Value.Data.AsMemory(0, node.Value.Length), node.Value, cancellationToken).ConfigureAwait(false);
        }

        if (_window.Count > 0)
        {
            _context.Log.Info("Token telemetry emitter '{0}' resent {1} records to the CloudWatch agent at {2} on a new connection.", _context.Name, records, _options.Endpoint);
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

    /// <summary>Writes <paramref name="data"/> (the bytes of <paramref name="entry"/>) and notes where it ends on the connection.</summary>
    private async ValueTask WriteAsync(ReadOnlyMemory<byte> data, Written entry, CancellationToken cancellationToken)
    {
        entry.EndOffset = _written + data.Length;
        try
        {
            while (!data.IsEmpty)
            {
                var sent = await _socket!.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                data = data[sent..];
                _written += sent;
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

    /// <summary>
    /// Shutdown: resends what the agent may have lost if it closed the connection, half-closes, and waits for the
    /// agent to close its side, which it does only after reading everything. Bounded by <see cref="CloseTimeout"/>
    /// for each step; what cannot be shown read is logged.
    /// </summary>
    private async ValueTask CloseGracefullyAsync()
    {
        var records = WindowRecords();
        try
        {
            if (_socket is null || !IsOpen(_socket))
            {
                Close();
                if (_window.Count == 0)
                {
                    return;
                }

                using var reconnect = new CancellationTokenSource(CloseTimeout);
                await ConnectAndResendAsync(reconnect.Token).ConfigureAwait(false);
            }

            _socket!.Shutdown(SocketShutdown.Send);
            if (_window.Count == 0)
            {
                return; // everything was read long ago
            }

            using var closing = new CancellationTokenSource(CloseTimeout);
            var discard = new byte[256];
            while (await _socket.ReceiveAsync(discard, SocketFlags.None, closing.Token).ConfigureAwait(false) > 0)
            {
                // The agent sends nothing, normally: whatever comes is not ours to read.
            }

            // A clean close after our half-close: the agent read every byte before it.
        }
        catch (OperationCanceledException)
        {
            _context.Log.Warning(
                "Token telemetry emitter '{0}': at shutdown the CloudWatch agent at {1} did not show within {2} that it read the last {3} records (it did not close its side of the connection); they may not have arrived.",
                _context.Name,
                _options.Endpoint,
                CloseTimeout,
                records);
        }
        catch (Exception e) when (e is SocketException or EmfDeliveryException or ObjectDisposedException)
        {
            _context.Log.Warning(
                "Token telemetry emitter '{0}': at shutdown the CloudWatch agent at {1} could not be reached, or reset the connection, before it showed it read the last {2} records; they may not have arrived. {3}",
                _context.Name,
                _options.Endpoint,
                records,
                e.Message);
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

    /// <summary>
    /// The acknowledged data bytes of the connection (TCP_INFO <c>tcpi_bytes_acked</c>, less the SYN), or null where
    /// the platform does not tell (then a write into an open connection counts as acknowledged).
    /// </summary>
    private long? AcknowledgedBytes(Socket socket)
    {
        if (!OperatingSystem.IsLinux() || _tcpInfoUnusable)
        {
            return null;
        }

        Span<byte> info = stackalloc byte[TcpInfoBytesAckedOffset + 8];
        try
        {
            var length = socket.GetRawSocketOption(IpProtocolTcp, TcpInfo, info);
            var acked = length >= info.Length ? BinaryPrimitives.ReadUInt64LittleEndian(info[TcpInfoBytesAckedOffset..]) : 0;
            if (acked > 0)
            {
                return (long)acked - 1;
            }

            // A kernel older than 4.1 (shorter struct), or a network stack that leaves the count at 0 even for the
            // SYN: trusting it would count nothing as delivered, ever. Fall back, and say so once.
            _tcpInfoUnusable = true;
            _context.Log.Warning(
                "Token telemetry emitter '{0}': this system's TCP_INFO gives no acknowledged byte count; a batch written into an open connection to the CloudWatch agent counts as delivered.",
                _context.Name);
            return null;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Whether the agent's host has left written bytes unacknowledged for unacknowledged-timeout: it is gone.</summary>
    private bool IsStalled() =>
        _written > _acknowledged && _context.Time.GetElapsedTime(_acknowledgedGrewAt) >= _options.UnacknowledgedTimeout;

    /// <summary>Resets a connection whose peer stopped acknowledging, so the next attempt reconnects and resends.</summary>
    private void AbortStalled()
    {
        _context.Log.Warning(
            "Token telemetry emitter '{0}': the CloudWatch agent at {1} acknowledged nothing for {2} ({3} bytes waiting); resetting the connection to resend the {4} records it may not have read on a new one.",
            _context.Name,
            _options.Endpoint,
            _options.UnacknowledgedTimeout,
            _written - _acknowledged,
            WindowRecords());
        Abort();
    }

    private const int IpProtocolTcp = 6;
    private const int TcpInfo = 11;

    /// <summary>Where <c>tcpi_bytes_acked</c> lies in Linux's <c>struct tcp_info</c> (since Linux 4.1).</summary>
    private const int TcpInfoBytesAckedOffset = 120;

    /// <summary>Notes the entries whose every byte the agent's host has acknowledged (TCP delivers in order).</summary>
    private void MarkAcknowledged(long acknowledged)
    {
        var now = _context.Time.GetTimestamp();
        if (acknowledged > _acknowledged)
        {
            _acknowledged = acknowledged;
            _acknowledgedGrewAt = now;
        }

        // The acknowledged entries are a prefix of the window: walk back from the newest, past those still waiting,
        // over those acknowledged now, to the first one acknowledged before (so the cost is what changed).
        var node = _window.Last;
        while (node is not null && node.Value.AcknowledgedAt == 0 && node.Value.EndOffset > acknowledged)
        {
            node = node.Previous;
        }

        while (node is not null && node.Value.AcknowledgedAt == 0)
        {
            node.Value.AcknowledgedAt = now;
            node = node.Previous;
        }
    }

    /// <summary>Forgets what was acknowledged at least resend-window ago: the connection has stayed open since (the agent read it).</summary>
    private void Forget(long now)
    {
        while (_window.First is { } first && first.Value.AcknowledgedAt != 0 && _context.Time.GetElapsedTime(first.Value.AcknowledgedAt, now) >= _options.ResendWindow)
        {
            RemoveFirst();
        }
    }

    private long WindowRecords()
    {
        long records = 0;
        for (var node = _window.First; node is not null; node = node.Next)
        {
            records += node.Value.Records;
        }

        return records;
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

    /// <summary>Bytes written to the agent, kept until they are surely read.</summary>
    private sealed class Written(byte[] data, int length, int records)
    {
        public byte[] Data { get; } = data;

        public int Length { get; } = length;

        /// <summary>The records of the batch these bytes came from.</summary>
        public int Records { get; } = records;

        /// <summary>Where these bytes end on the connection they were last written to.</summary>
        public long EndOffset { get; set; }

        /// <summary>When the agent's host acknowledged the last of them on that connection; 0 = not yet.</summary>
        public long AcknowledgedAt { get; set; }

        public LinkedListNode<Written> Node { get; set; } = null!;
    }
}
