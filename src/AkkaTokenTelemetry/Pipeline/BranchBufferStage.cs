using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaTokenTelemetry;

/// <summary>
/// The bounded buffer in front of one emitter. It never backpressures, so a slow emitter cannot slow the fan-out or
/// the other emitters: when it is full it drops a batch (the oldest, or the arriving one) and reports the drop,
/// which is counted with reason <c>buffer_full</c>. Nothing is dropped silently.
/// </summary>
internal sealed class BranchBufferStage : GraphStage<FlowShape<EmfBatch, EmfBatch>>
{
    private readonly int _capacity;
    private readonly OverflowMode _overflow;
    private readonly Action<EmfBatch> _onDrop;

    public BranchBufferStage(int capacity, OverflowMode overflow, Action<EmfBatch> onDrop)
    {
        _capacity = capacity;
        _overflow = overflow;
        _onDrop = onDrop;
        Shape = new FlowShape<EmfBatch, EmfBatch>(In, Out);
    }

    public Inlet<EmfBatch> In { get; } = new("BranchBuffer.in");

    public Outlet<EmfBatch> Out { get; } = new("BranchBuffer.out");

    public override FlowShape<EmfBatch, EmfBatch> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("emitter-buffer");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic
    {
        private readonly BranchBufferStage _stage;
        private readonly Queue<EmfBatch> _queue = new();

        public Logic(BranchBufferStage stage)
            : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage.In, onPush: OnPush, onUpstreamFinish: () =>
            {
                if (_queue.Count == 0)
                {
                    CompleteStage();
                }
            });
            SetHandler(stage.Out, onPull: OnPull);
        }

        public override void PreStart() => Pull(_stage.In);

        private void OnPush()
        {
            var batch = Grab(_stage.In);
            if (_queue.Count >= _stage._capacity)
            {
                if (_stage._overflow == OverflowMode.DropOldest)
                {
                    _stage._onDrop(_queue.Dequeue());
                    _queue.Enqueue(batch);
                }
                else
                {
                    _stage._onDrop(batch);
                }
            }
            else
            {
                _queue.Enqueue(batch);
            }

            if (IsAvailable(_stage.Out) && _queue.Count > 0)
            {
                Push(_stage.Out, _queue.Dequeue());
            }

            Pull(_stage.In);
        }

        private void OnPull()
        {
            if (_queue.Count > 0)
            {
                Push(_stage.Out, _queue.Dequeue());
            }

            if (_queue.Count == 0 && IsClosed(_stage.In))
            {
                CompleteStage();
            }
        }
    }
}
