using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry;

/// <summary>
/// <c>type = logger</c>: writes each event through Microsoft.Extensions.Logging, at the configured category and
/// level, with the EMF line as the whole message (event id 1, <c>EmfEvent</c>). The logger factory comes from
/// <see cref="TokenTelemetrySetup.WithLoggerFactory"/> (Akka.Hosting passes the host's).
/// </summary>
internal sealed class LoggerEmfEmitter(LoggerEmitterOptions options, ILoggerFactory factory, EmitterContext context) : IEmfEmitter
{
    private static readonly EventId EmfEvent = new(1, "EmfEvent");
    private static readonly Func<string, Exception?, string> Format = static (line, _) => line;

    private readonly ILogger _logger = factory.CreateLogger(options.Category);
    private readonly EmfLineShaper _shaper = new(EmfLineShaper.MaxLogEventBytes);
    private readonly System.Buffers.ArrayBufferWriter<byte> _line = new(4096);

    public ValueTask EmitAsync(EmfBatch batch, CancellationToken cancellationToken)
    {
        if (!_logger.IsEnabled(options.Level))
        {
            // The logging configuration filters this category out: the events are handed over and discarded there.
            context.WarnOnce(
                "disabled",
                $"Token telemetry emitter '{context.Name}': logging category '{options.Category}' is not enabled at level {options.Level}, so its events are discarded by the logging configuration.");
            return ValueTask.CompletedTask;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            var evt = batch.GetEvent(i);
            if (evt.Length <= _shaper.MaxEventBytes)
            {
                _logger.Log(options.Level, EmfEvent, batch.GetJson(i), null, Format);
                continue;
            }

            _line.ResetWrittenCount();
            if (_shaper.WriteLine(evt.Span, _line, context))
            {
                _logger.Log(options.Level, EmfEvent, System.Text.Encoding.UTF8.GetString(_line.WrittenSpan[..^1]), null, Format);
            }
        }

        return ValueTask.CompletedTask;
    }
}
