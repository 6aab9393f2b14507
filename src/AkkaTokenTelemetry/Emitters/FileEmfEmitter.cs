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
        var lines = _shaper.Shape(batch, _lines, _context);

        if (lines.IsEmpty)
        {
            return;
        }

        _stream ??= Open();
        if (_options.MaxFileSize > 0 && _stream.Length > 0 && _stream.Length + lines.Length > _options.MaxFileSize)
        {
            Rotate();
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
    }

    private FileStream Open() =>
        new(_options.Path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.Read | FileShare.Delete,
            BufferSize = 0,
            Options = FileOptions.Asynchronous,
        });

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
