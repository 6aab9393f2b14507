using System.Buffers;
using System.Text;

namespace AkkaTokenTelemetry;

/// <summary>
/// <c>type = stdout</c>: writes each event as one line on standard output (<see cref="Console.Out"/>), in chunks
/// of whole lines so that lines from other writers never split ours.
/// </summary>
internal sealed class StdoutEmfEmitter(EmitterContext? context = null) : IEmfEmitter
{
    private const int ChunkChars = 16 * 1024;

    private readonly EmfLineShaper _shaper = new(EmfLineShaper.MaxLogEventBytes);

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        var output = Console.Out;
        if (!_shaper.PassesUnchanged(batch) && context is not null)
        {
            // Rare: an event over CloudWatch Logs' 1 MiB limit. Shape every line, then write them one by one.
            var line = new ArrayBufferWriter<byte>();
            for (var i = 0; i < batch.Count; i++)
            {
                line.ResetWrittenCount();
                if (_shaper.WriteLine(batch.GetEvent(i).Span, line, context))
                {
                    var text = Encoding.UTF8.GetString(line.WrittenSpan);
                    output.Write(EmfEmitters.CanHoldUnicode(output.Encoding)
                        ? text
                        : EmfEmitters.FormatLine((System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(text)!, unicode: false));
                }
            }

            return ValueTask.CompletedTask;
        }

        if (!EmfEmitters.CanHoldUnicode(output.Encoding))
        {
            for (var i = 0; i < batch.Count; i++)
            {
                output.Write(EmfEmitters.FormatLine(batch.GetPayload(i), unicode: false));
            }

            return ValueTask.CompletedTask;
        }

        var lines = batch.Utf8Lines.Span;
        var chars = ArrayPool<char>.Shared.Rent(ChunkChars + 1024);
        try
        {
            while (!lines.IsEmpty)
            {
                // Take whole lines up to about ChunkChars bytes (a longer line goes alone).
                var take = 0;
                while (take < lines.Length)
                {
                    var end = lines[take..].IndexOf((byte)'\n');
                    var next = end < 0 ? lines.Length : take + end + 1;
                    if (take > 0 && next > ChunkChars)
                    {
                        break;
                    }

                    take = next;
                }

                var chunk = lines[..take];
                var buffer = chars.Length >= chunk.Length ? chars : new char[chunk.Length];
                var count = Encoding.UTF8.GetChars(chunk, buffer);
                output.Write(buffer, 0, count);
                lines = lines[take..];
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary><c>type = null</c>: accepts every batch and writes nothing.</summary>
internal sealed class NullEmfEmitter : IEmfEmitter
{
    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
