using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry.Hosting.Tests.Support;

/// <summary>A logger provider that keeps every entry with its category.</summary>
public sealed class CollectingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(string Category, (LogLevel Level, string Message) Entry)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<(string, (LogLevel, string))> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((category, (logLevel, formatter(state, exception))));
    }
}
