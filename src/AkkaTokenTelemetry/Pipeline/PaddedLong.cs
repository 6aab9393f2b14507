using System.Runtime.InteropServices;

namespace AkkaTokenTelemetry;

/// <summary>
/// A counter alone on its cache line(s). Counters written by different threads (the agents' threads, the router,
/// the stream) would otherwise share a cache line and make every increment a cross-core transfer.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedLong
{
    /// <summary>The value; use it with <see cref="Interlocked"/> or <see cref="Volatile"/>.</summary>
    [FieldOffset(64)]
#pragma warning disable CA1051 // a field, so Interlocked can take it by reference
    public long Value;
#pragma warning restore CA1051
}
