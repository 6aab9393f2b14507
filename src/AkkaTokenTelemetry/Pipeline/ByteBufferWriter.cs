using System.Buffers;

namespace AkkaTokenTelemetry;

/// <summary>A growable byte buffer over pooled arrays that, unlike <see cref="ArrayBufferWriter{T}"/>, can be cut back.</summary>
internal sealed class ByteBufferWriter : IBufferWriter<byte>
{
    private byte[] _buffer;

    public ByteBufferWriter(int initialCapacity)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    public int WrittenCount { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, WrittenCount);

    public void Advance(int count) => WrittenCount += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(WrittenCount);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(WrittenCount);
    }

    /// <summary>Forgets everything written after <paramref name="length"/> bytes.</summary>
    public void Truncate(int length) => WrittenCount = length;

    /// <summary>Hands the written bytes over in a pooled array of their own (the caller returns it) and starts empty.</summary>
    public byte[] DetachCopy()
    {
        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(WrittenCount, 1));
        WrittenSpan.CopyTo(copy);
        WrittenCount = 0;
        return copy;
    }

    private void Ensure(int sizeHint)
    {
        var needed = WrittenCount + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        WrittenSpan.CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
