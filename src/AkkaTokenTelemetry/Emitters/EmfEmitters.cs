using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;

namespace AkkaTokenTelemetry;

/// <summary>
/// Ready-made emitters: functions that receive a finished EMF payload and write it somewhere. The C# form of the
/// seed's <c>default_emitter</c>, plus the ones this library adds.
/// </summary>
public static class EmfEmitters
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    /// <summary>
    /// Writes each payload as one compact JSON line to standard output (<see cref="Console.Out"/>, so
    /// <see cref="Console.SetOut"/> redirects it). Safe to call from many threads at once: each line is written
    /// whole, and lines from concurrent callers never interleave.
    /// </summary>
    /// <remarks>
    /// Text is UTF-8 with only what JSON requires escaped, so non-ASCII arrives as the same characters. When the
    /// console's encoding cannot hold all of Unicode (a legacy code page), non-ASCII is written as JSON
    /// <c>\uXXXX</c> escapes instead of being lost as <c>?</c>; CloudWatch decodes both to the same values.
    /// </remarks>
    public static Action<JsonObject> Default { get; } = static payload => WriteLine(Console.Out, payload);

    /// <summary>
    /// Returns an emitter that writes each payload as one compact JSON line to <paramref name="writer"/>. Lines
    /// are written whole under a lock on the writer, so concurrent callers never interleave.
    /// </summary>
    /// <param name="writer">Where the lines go, for example a <see cref="StringWriter"/> in a test or a log file's writer.</param>
    /// <exception cref="ArgumentNullException"><paramref name="writer"/> is null.</exception>
    public static Action<JsonObject> ToTextWriter(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        return payload =>
        {
            var line = FormatLine(payload, CanHoldUnicode(writer.Encoding));
            lock (writer)
            {
                writer.Write(line);
                writer.Flush();
            }
        };
    }

    /// <summary>The payload as one compact JSON line, ending in <c>\n</c>.</summary>
    internal static string FormatLine(JsonObject payload, bool unicode)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(buffer, unicode ? EmfJson.WriterOptions : EmfJson.AsciiWriterOptions))
        {
            payload.WriteTo(json);
        }

        buffer.Write("\n"u8);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteLine(TextWriter writer, JsonObject payload)
    {
        // Console.Out is synchronized: one Write call per line keeps lines whole under concurrency.
        writer.Write(FormatLine(payload, CanHoldUnicode(writer.Encoding)));
    }

    /// <summary>
    /// Returns an emitter that tells <paramref name="target"/> an <see cref="EmfPayloadEmitted"/> (the JSON line and
    /// the parsed payload) per event. Use it with a TestKit probe:
    /// <c>new TokenUsageHookOptions { Emitter = EmfEmitters.ToActor(probe.Ref) }</c>, then <c>probe.ExpectMsg&lt;EmfPayloadEmitted&gt;()</c>.
    /// </summary>
    /// <param name="target">The actor that receives one message per event.</param>
    /// <exception cref="ArgumentNullException"><paramref name="target"/> is null.</exception>
    public static Action<JsonObject> ToActor(IActorRef target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return payload =>
        {
            ArgumentNullException.ThrowIfNull(payload);
            target.Tell(new EmfPayloadEmitted(payload.ToJsonString(EmfJson.SerializerOptions), payload), ActorRefs.NoSender);
        };
    }

    internal static bool CanHoldUnicode(Encoding encoding) =>
        encoding.CodePage is 65001 or 1200 or 1201 or 12000 or 12001;
}
