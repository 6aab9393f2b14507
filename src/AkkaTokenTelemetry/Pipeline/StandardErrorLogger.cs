using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace AkkaTokenTelemetry;

/// <summary>
/// An Akka.NET logger that writes log events to standard error. When stdout carries EMF (the <c>stdout</c> emitter,
/// AWS Lambda, a CloudWatch agent tailing the container's output), Akka's default logger would mix its lines into
/// the same stream; configure this one instead so stdout stays pure EMF:
/// <c>akka.loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"]</c>, together with
/// <c>akka.stdout-loglevel = OFF</c> (Akka writes to stdout directly while its loggers start and stop).
/// </summary>
public sealed class StandardErrorLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>Creates the logger; Akka does this from <c>akka.loggers</c>.</summary>
    public StandardErrorLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Console.Error.WriteLine(e.ToString()));
    }
}
