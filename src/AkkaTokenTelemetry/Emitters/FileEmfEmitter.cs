using Akka.Event;
using System.Buffers;

namespace AkkaTokenTelemetry;

/// <summary>
/// <c>type = file</c>: appends one line per event to a file (created if missing), flushed after every batch. With
/// <c>max-file-size</c>, a batch that would take the file past that size first rotates it: <c>path</c> becomes
/// <c>path.1</c>, <c>path.1</c> becomes <c>path.2</c>, and so on, keeping <c>keep-files</c> rotated files.
/// A line is never split across files.
/// </summary>
internal sealed class FileEmfEmitter : IEmfEmitter, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly FileEmitterOptions _options;
    private readonly EmitterContext _context;
    private readonly EmfLineShaper _shaper = new(EmfLineShaper.MaxLogEventBytes);
    private readonly ArrayBufferWriter<byte> _lines = new(64 * 1024);
    private FileStream? _stream;

    /// <summary>Opens (or creates) the file: a file that cannot be opened is a start-up error.</summary>
    public FileEmfEmitter(FileEmitterOptions options, EmitterContext context)
    {
        _options = options;
        _context = context;
        _stream = Open();
    }

    public async ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        // One write at a time, also when an attempt that ignored its token is still running.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask WriteAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        var lines = _shaper.Shape(batch, _lines, _context);

        if (lines.IsEmpty)
        {
            return;
        }

        _stream ??= Open();
        if (_options.MaxFileSize > 0 && _stream.Length > 0 && _stream.Length + lines.Length > _options.MaxFileSize)
        {
            try
            {
                Rotate();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Rotation is housekeeping: never lose events to it. Keep appending and say so once.
                _context.WarnOnce("rotate", $"Token telemetry emitter '{_context.Name}' could not rotate {_options.Path} ({e.Message}); it keeps appending to the current file.");
                _stream ??= Open();
            }
        }

        var start = _stream.Length;
        try
        {
            await _stream.WriteAsync(lines, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or UnauthorizedAccessException)
        {
            // Never leave half a line behind: cut the file back to where this batch began, and reopen next time.
            try
            {
                _stream.SetLength(start);
            }
            catch (Exception cut) when (cut is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                _context.Log.Warning("Token telemetry emitter '{0}' could not remove a partly written batch from {1}: {2}", _context.Name, _options.Path, cut.Message);
            }

            _stream.Dispose();
            _stream = null;
            if (e is OperationCanceledException)
            {
                throw;
            }

            throw new EmfDeliveryException($"Writing to {_options.Path} failed: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        _gate.Dispose();
    }

    private FileStream Open()
    {
        var stream = new FileStream(_options.Path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.Read | FileShare.Delete,
            BufferSize = 0,
            Options = FileOptions.Asynchronous,
        });

        // A file that ends in part of a line (a crash mid-write elsewhere) gets a newline first, so our first event
        // is never joined onto it.
        if (stream.Length > 0 && LastByte(_options.Path) != (byte)'\n')
        {
            stream.Write("\n"u8);
        }

        return stream;
    }

    private static int LastByte(string path)
    {
        using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        reader.Seek(-1, SeekOrigin.End);
        return reader.ReadByte();
    }

    private void Rotate()
    {
        _stream!.Dispose();
        _stream = null;
        var path = _options.Path;
        if (_options.KeepFiles == 0)
        {
            File.Delete(path);
        }
        else
        {
            File.Delete($"{path}.{_options.KeepFiles}");
            for (var i = _options.KeepFiles - 1; i >= 1; i--)
            {
                if (File.Exists($"{path}.{i}"))
                {
                    File.Move($"{path}.{i}", $"{path}.{i + 1}");
                }
            }

            File.Move(path, $"{path}.1");
        }

        _stream = Open();
    }
}
