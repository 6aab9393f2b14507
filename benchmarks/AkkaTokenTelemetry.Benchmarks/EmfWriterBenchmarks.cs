using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;

namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>
/// Writing the standard payload (5 usage keys, dimension sets [["Model"],["Model","Agent"]], 2 dimension values,
/// 2 extra properties, about 570 bytes): the hot-path writer, Build + ToJsonString, and a plain Utf8JsonWriter
/// that writes the same bytes field by field with no validation (the baseline).
/// </summary>
[MemoryDiagnoser]
public class EmfWriterBenchmarks
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private EmfEventWriter _writer = null!;
    private EmfContext _context = null!;
    private string[] _dimensionValues = null!;
    private UsageEntry[] _usage = null!;
    private Utf8JsonWriter _json = null!;
    private long _timestamp;

    [GlobalSetup]
    public void Setup()
    {
        _timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _context = EmfContext.Create(StandardPayload.Namespace, StandardPayload.Dimensions, StandardPayload.ExtraProperties);
        _dimensionValues = EmfPayload.ResolveDimensionValues(_context, StandardPayload.DimensionValues);
        _usage = StandardPayload.Usage.Select(p => new UsageEntry(p.Key, p.Value)).ToArray();
        _writer = new EmfEventWriter();
        _json = new Utf8JsonWriter(_buffer, EmfJson.WriterOptions);

        // The three must write the same event, or the comparison means nothing.
        var fromWriter = Capture(HotPathWriter);
        var fromBaseline = Capture(PlainUtf8JsonWriter);
        var fromBuild = BuildAndToJsonString();
        if (fromWriter != fromBaseline + "\n" || fromBuild != fromBaseline)
        {
            throw new InvalidOperationException($"The benchmarks write different events:\n{fromWriter}\n{fromBaseline}\n{fromBuild}");
        }

        Console.Error.WriteLine($"// standard payload: {fromBaseline.Length} bytes");
    }

    [GlobalCleanup]
    public void Cleanup() => _json.Dispose();

    /// <summary>(a) The pipeline's writer into a reused buffer.</summary>
    [Benchmark]
    public int HotPathWriter()
    {
        _buffer.ResetWrittenCount();
        return _writer.WriteRecord(_buffer, _context, _dimensionValues, _usage, _timestamp);
    }

    /// <summary>(b) The seed's way: build a DOM, then serialize it.</summary>
    [Benchmark]
    public string BuildAndToJsonString() =>
        EmfPayload.Build(StandardPayload.UsageMap, StandardPayload.Namespace, StandardPayload.Dimensions, StandardPayload.DimensionValues, StandardPayload.ExtraProperties, _timestamp)
            .ToJsonString(EmfJson.SerializerOptions);

    /// <summary>(c) Baseline: a plain Utf8JsonWriter writing the same bytes field by field, no validation.</summary>
    [Benchmark(Baseline = true)]
    public int PlainUtf8JsonWriter()
    {
        _buffer.ResetWrittenCount();
        var w = _json;
        w.Reset(_buffer);
        w.WriteStartObject();
        w.WriteStartObject("_aws");
        w.WriteNumber("Timestamp", _timestamp);
        w.WriteStartArray("CloudWatchMetrics");
        w.WriteStartObject();
        w.WriteString("Namespace", StandardPayload.Namespace);
        w.WriteStartArray("Dimensions");
        foreach (var set in StandardPayload.DimensionArrays)
        {
            w.WriteStartArray();
            foreach (var key in set)
            {
                w.WriteStringValue(key);
            }

            w.WriteEndArray();
        }

        w.WriteEndArray();
        w.WriteStartArray("Metrics");
        foreach (var (name, _) in StandardPayload.UsageArray)
        {
            w.WriteStartObject();
            w.WriteString("Name", name);
            w.WriteString("Unit", "Count");
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteString("Model", StandardPayload.Model);
        w.WriteString("Agent", StandardPayload.Agent);
        w.WriteString("UserId", StandardPayload.UserId);
        w.WriteString("SessionId", StandardPayload.SessionId);
        foreach (var (name, value) in StandardPayload.UsageArray)
        {
            w.WriteNumber(name, value);
        }

        w.WriteEndObject();
        w.Flush();
        return (int)w.BytesCommitted;
    }

    private string Capture(Func<int> write)
    {
        write();
        return System.Text.Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }
}
