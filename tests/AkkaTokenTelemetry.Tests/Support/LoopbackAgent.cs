using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>
/// A stand-in for the CloudWatch agent's EMF listener: a real TCP listener on 127.0.0.1 (port chosen by the OS) that
/// reads newline-delimited UTF-8 lines. It can be stopped and started again on the same port (an agent restart),
/// and its reading can be paused (a slow agent).
/// </summary>
public sealed class LoopbackAgent : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<TcpClient> _clients = [];
    private readonly object _gate = new();
    private TcpListener? _listener;
    private CancellationTokenSource _stop = new();
    private volatile TaskCompletionSource _resume = CompletedSource();
    private int _connections;
    private int _resetAfterBytes = -1;

    private LoopbackAgent(int port)
    {
        Port = port;
    }

    public int Port { get; }

    public string Endpoint => $"tcp://127.0.0.1:{Port}";

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Starts listening on a port the OS picks.</summary>
    public static LoopbackAgent Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var agent = new LoopbackAgent(((IPEndPoint)listener.LocalEndpoint).Port);
        agent.Run(listener);
        return agent;
    }

    /// <summary>A port nothing listens on yet (for an agent that appears later, on <see cref="Restart"/>).</summary>
    public static LoopbackAgent Reserve()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new LoopbackAgent(port);
    }

    /// <summary>Stops listening and closes every accepted connection, as an agent that exits does.</summary>
    public void Stop()
    {
        _stop.Cancel();
        lock (_gate)
        {
            _listener?.Stop();
            _listener = null;
            foreach (var client in _clients)
            {
                client.Close();
            }

            _clients.Clear();
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public void Restart()
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        _stop = new CancellationTokenSource();
        Run(listener);
    }

    /// <summary>
    /// Stops reading (the connection stays open; the sender's buffers fill). What arrives meanwhile is not taken as
    /// lines until <see cref="ResumeReading"/>, and is lost if the agent is stopped first.
    /// </summary>
    public void PauseReading() => _resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ResumeReading() => _resume.TrySetResult();

    /// <summary>
    /// The current connection is reset (RST, not a clean close) once it has read <paramref name="bytes"/> more
    /// bytes — usually in the middle of a line, which is then lost with the connection, as with a crashing agent.
    /// </summary>
    public void ResetAfter(int bytes) => Volatile.Write(ref _resetAfterBytes, bytes);

    public ValueTask DisposeAsync()
    {
        ResumeReading();
        Stop();
        return ValueTask.CompletedTask;
    }

    private static TaskCompletionSource CompletedSource()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    private void Run(TcpListener listener)
    {
        lock (_gate)
        {
            _listener = listener;
        }

        var stop = _stop.Token;
        _ = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync(stop);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                lock (_gate)
                {
                    _clients.Add(client);
                }

                Interlocked.Increment(ref _connections);
                _ = Task.Run(() => ReadAsync(client, stop));
            }
        });
    }

    private void Consume(byte[] buffer, int read, List<byte> pending)
    {
        for (var i = 0; i < read; i++)
        {
            if (buffer[i] == (byte)'\n')
            {
                _lines.Enqueue(Encoding.UTF8.GetString(pending.ToArray()));
                pending.Clear();
            }
            else
            {
                pending.Add(buffer[i]);
            }
        }
    }

    private async Task ReadAsync(TcpClient client, CancellationToken stop)
    {
        var pending = new List<byte>();
        var buffer = new byte[64 * 1024];
        try
        {
            var stream = client.GetStream();
            while (!stop.IsCancellationRequested)
            {
                await _resume.Task.WaitAsync(stop);
                var read = await stream.ReadAsync(buffer, stop);

                // Paused meanwhile: what was read waits with the rest, and is lost if the agent stops before resuming.
                await _resume.Task.WaitAsync(stop);
                if (read == 0)
                {
                    // The sender closed its side after its last line: close ours, as the agent does.
                    lock (_gate)
                    {
                        _clients.Remove(client);
                    }

                    client.Close();
                    return;
                }

                var reset = Volatile.Read(ref _resetAfterBytes);
                if (reset >= 0)
                {
                    if (read >= reset && Interlocked.CompareExchange(ref _resetAfterBytes, -1, reset) == reset)
                    {
                        // Keep what came before the cut point (a partial line is discarded below), then RST.
                        read = reset;
                        Consume(buffer, read, pending);
                        client.Client.LingerState = new LingerOption(true, 0);
                        client.Close();
                        return;
                    }

                    Interlocked.Add(ref _resetAfterBytes, -read);
                }

                Consume(buffer, read, pending);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Stopped, or the sender closed the connection: an unterminated line is not an event, as for the agent.
        }
    }
}
