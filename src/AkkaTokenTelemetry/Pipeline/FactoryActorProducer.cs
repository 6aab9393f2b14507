using Akka.Actor;

namespace AkkaTokenTelemetry;

/// <summary>Creates actors through a factory, so actors with internal constructors need no reflection.</summary>
internal sealed class FactoryActorProducer<TActor>(Func<TActor> factory) : IIndirectActorProducer
    where TActor : ActorBase
{
    public Type ActorType => typeof(TActor);

    public ActorBase Produce() => factory();

    public void Release(ActorBase actor)
    {
    }

    public static Props Props(Func<TActor> factory) => Akka.Actor.Props.CreateBy(new FactoryActorProducer<TActor>(factory));
}
