using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaTokenTelemetry;

/// <summary>
/// The bounded buffer in front of one emitter. While the emitter keeps taking batches, a full buffer simply
/// backpressures: a burst waits in the ingress instead of being dropped, and no emitter loses data because the
/// others are momentarily faster. When the emitter has taken nothing for <c>stall-timeout</c> while the buffer is
/// full, the branch counts as stalled and the buffer starts dropping (the oldest batch, or the arriving one) so that
/// the other emitters keep receiving everything. Each drop is reported and counted as <c>buffer_full</c>; the branch
/// stops dropping as soon as its emitter takes a batch again. With a single emitter there is nobody to keep
/// flowing: the buffer only backpressures, and the ingress drops (and counts) what does not fit.
/// </summary>
internal sealed class BranchBufferStage : GraphStage<FlowShape<EmfBatch, EmfBatch>>
{
    private readonly int _capacity;
    private readonly OverflowMode _overflow;
    private readonly TimeSpan? _stallTimeout;
    private readonly Action<EmfBatch> _onDrop;

    /// <param name="capacity">buffer-batches.</param>
    /// <param name="overflow">Which batch a stalled branch drops.</param>
    /// <param name="stallTimeout">stall-timeout; null when this is the only branch: with no other emitter to keep
    /// flowing, a full buffer only backpressures (a slow emitter then fills the ingress, which drops and counts).</param>
    /// <param name="onDrop">Told about every dropped batch.</param>
    public BranchBufferStage(int capacity, OverflowMode overflow, TimeSpan? stallTimeout, Action<EmfBatch> onDrop)
    {
        _capacity = capacity;
        _overflow = overflow;
        _stallTimeout = stallTimeout;
        _onDrop = onDrop;
        Shape = new FlowShape<EmfBatch, EmfBatch>(In, Out);
    }

    public Inlet<EmfBatch> In { get; } = new("BranchBuffer.in");

    public Outlet<EmfBatch> Out { get; } = new("BranchBuffer.out");

    public override FlowShape<EmfBatch, EmfBatch> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("emitter-buffer");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : TimerGraphStageLogic
    {
        private const string StallTimer = "stall";
        private readonly BranchBufferStage _stage;
        private readonly Queue<EmfBatch> _queue = new();
        private bool _stalled;

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

        protected override void OnTimer(object timerKey)
        {
            // Full, and the emitter has taken nothing for stall-timeout: drop so the other emitters keep going.
            _stalled = true;
            if (!HasBeenPulled(_stage.In) && !IsClosed(_stage.In))
            {
                Pull(_stage.In);
            }
        }

        private void OnPush()
        {
            var batch = Grab(_stage.In);
            if (_queue.Count >= _stage._capacity)
            {
                // Only reachable while stalled: otherwise a full buffer does not pull.
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

            PullOrWait();
        }

        private void OnPull()
        {
            _stalled = false;
            CancelTimer(StallTimer);
            if (_queue.Count > 0)
            {
                Push(_stage.Out, _queue.Dequeue());
            }

            if (IsClosed(_stage.In))
            {
                if (_queue.Count == 0)
                {
                    CompleteStage();
                }

                return;
            }

            PullOrWait();
        }

        private void PullOrWait()
        {
            if (IsClosed(_stage.In) || HasBeenPulled(_stage.In))
            {
                return;
            }

            if (_queue.Count < _stage._capacity || _stalled)
            {
                Pull(_stage.In);
            }
            else if (_stage._stallTimeout is { } stallTimeout && !IsTimerActive(StallTimer))
            {
                ScheduleOnce(StallTimer, stallTimeout);
            }
        }
    }
}
