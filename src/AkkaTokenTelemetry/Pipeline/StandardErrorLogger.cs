using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace AkkaTokenTelemetry;

/// <summary>
/// An Akka.NET logger that writes log events to standard error. When stdout carries EMF (the <c>stdout</c> emitter,
/// AWS Lambda, a CloudWatch agent tailing the container's output), Akka's default logger would mix its lines into
/// the same stream; configure this one instead so stdout stays pure EMF:
/// <c>akka.loggers = ["AkkaTokenTelemetry.StandardErrorLogger, AkkaTokenTelemetry"]</c>.
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
