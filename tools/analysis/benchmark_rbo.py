"""Training-step cost of RBO on the 1-bit ResNet backbone used by the detectors.

Three runs on the same network, input and optimizer (SGD with momentum, foreach
as on GPUs), alternated step by step so they share machine noise:

- ``ReActConv + NonFiniteSkip``: the 1-bit baseline as its configs train it
  (ReActNet weights, MMEngine's OptimWrapper plus the NaN-loss skip);
- ``RBOConv + OptimWrapper``: the RBO model, recurrence never fed (prev_grad 0);
- ``RBOConv + RBOOptimWrapper``: full RBONN (bilinear backward + recurrent step).

Prints median step times and two ratios: RBO wrapper / plain wrapper on the
same 1-bit model (target <= 1.05) and RBONN / ReActNet (<= 1.05), each as the ratio
of the medians and as the median of the per-round ratios with its 95 % interval
(a round's two steps share the machine's state; the interval says whether a
difference is more than this machine's noise); then the aten
operations one steady-state step dispatches (forward + backward, and the whole
step with the optimizer and the wrappers' work), RBONN vs ReActNet (target <=
1.15): at these sizes a GPU step is bound by operation launches, and the count is
the same on any machine. Not a test: a measurement.

``--weight-side`` times only what differs between the two: the weight work of the
binary convs, alternated round by round (no activations, no conv): ReActNet forms
each W_b and back-propagates a fixed dL/dW_b through it; RBONN also refreshes its step
constants before and hands the gradients off after (previous gradients non-zero), as
its wrapper does. It isolates the gap the whole step dilutes in the convolutions' noise.

``--compile-weight-math`` makes RBONN's weight math go through ``torch.compile``
(``RBOOptimWrapper(compile_weight_math=True)``): the per-step refresh of its step
constants (a few generated kernels instead of ~60 dispatched operations) and each
binary conv's weight backward (fused kernels instead of six operations each);
everything else stays eager. The operation counts still count them eagerly; the line
after them says how many of RBONN's operations ran compiled.

``--compile MODE`` times a captured step instead: the forward and loss of each model
through ``torch.compile(mode=MODE)`` (AOTAutograd compiles the backward with it;
``reduce-overhead`` replays both as CUDA graphs on a GPU), the optimizer and the
wrappers eager. Two runs then, ReActNet and RBONN; RBONN's wrapper leaves the step
constants to the compiled graph (``batch_step_constants=False``). No operation
counts there (a compiled step dispatches its generated kernels, not aten ops).

    python tools/analysis/benchmark_rbo.py [--depth 18] [--batch 8] [--size 160]
                                           [--steps 10] [--device cuda] [--amp]
                                           [--threads N] [--compile MODE]
                                           [--weight-side] [--compile-weight-math]
"""
import argparse

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from rbonn_det.analysis import count_dispatched_ops
from rbonn_det.binary import binary_layers, rbo_layers, refresh_recurrent_directions
from rbonn_det.binary.rbo import recurrent_weight_grads
from rbonn_det.engine import (NonFiniteSkipAmpOptimWrapper, NonFiniteSkipOptimWrapper,
                              RBOAmpOptimWrapper, RBOOptimWrapper)
from rbonn_det.models import BiResNet
from rbonn_det.registry import register_all_modules
from rbonn_det.utils.timing import (add_timing_args, alternated_times, apply_threads, median,
                                    ratio_text)

COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune')
BASELINE, PLAIN, RBONN = ('ReActConv + NonFiniteSkip', 'RBOConv + OptimWrapper',
                          'RBOConv + RBOOptimWrapper')


def make(conv_type, wrapper_cls, depth, device, seed=0, **wrapper_kwargs):
    torch.manual_seed(seed)
    model = BiResNet(depth=depth, conv_cfg=dict(type=conv_type)).to(device).train()
    # keyword: AmpOptimWrapper's first positional argument is loss_scale
    wrapper = wrapper_cls(optimizer=torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9,
                                                    foreach=True), **wrapper_kwargs)
    return model, wrapper


def loss_of(model, x):
    return sum(o.float().pow(2).mean() for o in model(x))


def step(model, wrapper, x, loss_fn=loss_of):
    with wrapper.optim_context(model):
        loss = loss_fn(model, x)
    wrapper.update_params(loss)


def count_step_ops(model, wrapper, x) -> dict:
    """Dispatched aten ops of one steady-state step (after one step: previous
    gradients stored): forward + backward as train_step runs them (in the wrapper's
    optim_context, where RBO computes its recurrent directions), and the whole step
    (plus the optimizer and the wrappers' work after backward)."""
    step(model, wrapper, x)

    def forward_backward():
        with wrapper.optim_context(model):
            loss = sum(o.float().pow(2).mean() for o in model(x))
        loss.backward()

    fwd_bwd = count_dispatched_ops(forward_backward)
    wrapper.zero_grad()
    whole = count_dispatched_ops(lambda: step(model, wrapper, x))
    return {'forward + backward': sum(fwd_bwd.values()), 'whole step': sum(whole.values())}


def weight_side_runs(depth, device, skip_cls, rbo_cls, **rbo_kwargs):
    """Callables doing one step's weight work of the binary convs (see the module
    docstring), ReActNet's and RBONN's, on the same seeded network and fixed dL/dW_b."""
    runs = {}
    for name, conv, wrapper_cls, kwargs in ((BASELINE, 'ReActConv', skip_cls, {}),
                                            (RBONN, 'RBOConv', rbo_cls, rbo_kwargs)):
        model, wrapper = make(conv, wrapper_cls, depth, device, **kwargs)
        layers = list(binary_layers(model).values())
        generator = torch.Generator(device).manual_seed(1)
        grads = [torch.randn(layer.weight.shape, generator=generator, device=device) * 1e-3
                 for layer in layers]
        if conv == 'RBOConv':
            wrapper.bind(model)
            for layer, grad in zip(layers, grads):
                layer.prev_grad.copy_(grad).mul_(-0.5)  # a previous step's gradient

        def weight_step(model=model, wrapper=wrapper, layers=layers, grads=grads, conv=conv):
            if conv == 'RBOConv':
                refresh_recurrent_directions(layers, compiled=wrapper.compile_weight_math)
            torch.autograd.backward([layer.binary_weight() for layer in layers], grads)
            if conv == 'RBOConv':
                wrapper._store_prev_grads()  # the hand-off after the optimizer step
            model.zero_grad(set_to_none=True)

        runs[name] = weight_step
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--depth', type=int, default=18)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--size', type=int, default=160)
    add_timing_args(parser, steps=10)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='AMP wrappers (CUDA only)')
    parser.add_argument('--compile', metavar='MODE', choices=COMPILE_MODES,
                        help=f'time torch.compile(mode=MODE)\'d steps, one of {COMPILE_MODES}')
    parser.add_argument('--weight-side', action='store_true',
                        help='time only the binary convs\' weight work (refresh, W_b, its '
                        'backward, hand-off), ReActNet vs RBONN')
    parser.add_argument('--compile-weight-math', action='store_true',
                        help='RBONN\'s weight math (per-step refresh, weight backward) '
                        'through torch.compile (RBOOptimWrapper(compile_weight_math=True))')
    parser.add_argument('--compile-backend', default='inductor',
                        help='torch.compile backend (default inductor; aot_eager checks the '
                        'plumbing without code generation)')
    args = parser.parse_args()
    register_all_modules()
    apply_threads(args)
    dev = torch.device(args.device)
    if args.amp and dev.type != 'cuda':
        parser.error('--amp needs --device cuda (MMEngine AMP runs on CUDA)')
    plain_cls, skip_cls, rbo_cls = (
        (AmpOptimWrapper, NonFiniteSkipAmpOptimWrapper, RBOAmpOptimWrapper) if args.amp
        else (OptimWrapper, NonFiniteSkipOptimWrapper, RBOOptimWrapper))
    if args.compile and (args.weight_side or args.compile_weight_math):
        parser.error('--compile captures the whole forward (step constants included); '
                     'drop --weight-side / --compile-weight-math')
    rbo_kwargs = dict(compile_weight_math=True) if args.compile_weight_math else {}
    refresh = ', weight math compiled' if args.compile_weight_math else ''
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    where = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else \
        f'cpu, {torch.get_num_threads()} threads'
    if args.weight_side:
        runs = weight_side_runs(args.depth, dev, skip_cls, rbo_cls, **rbo_kwargs)
        print(f'[bench] BiResNet-{args.depth}, weight side of its binary convs, {where}{refresh}, '
              f'{args.steps} rounds after {args.warmup} warm-up', flush=True)
        times = alternated_times(runs, args.steps, args.warmup, sync)
        for name, ts in times.items():
            print(f'[bench] {name:28s} median {median(ts) * 1e3:8.2f} ms/step')
        print(f'[bench] weight side RBONN / ReActNet: '
              f'{ratio_text(times[RBONN], times[BASELINE])}')
        return
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev)
    runs = {BASELINE: make('ReActConv', skip_cls, args.depth, dev)}
    if not args.compile:
        runs[PLAIN] = make('RBOConv', plain_cls, args.depth, dev)
    # compiled: the graph computes the step constants itself
    runs[RBONN] = make('RBOConv', rbo_cls, args.depth, dev,
                       batch_step_constants=not args.compile, **rbo_kwargs)
    loss_fn = (torch.compile(loss_of, mode=args.compile, backend=args.compile_backend)
               if args.compile else loss_of)
    compiled = (f', torch.compile(mode={args.compile!r}, backend={args.compile_backend!r})'
                if args.compile else '')
    print(f'[bench] BiResNet-{args.depth}, input {args.batch}x3x{args.size}x{args.size}, '
          f'{where}{", AMP" if args.amp else ""}'
          f'{compiled}{refresh}, '
          f'{args.steps} steps each after {args.warmup} warm-up', flush=True)
    if args.compile_weight_math:  # the first step compiles: not in the timing
        step(*runs[RBONN], x)
        sync()
    if args.compile:  # compiling takes long: not inside the alternated timing
        for name, (model, wrapper) in runs.items():
            for _ in range(3):  # CUDA graphs are recorded on the third call
                step(model, wrapper, x, loss_fn)
            sync()
            print(f'[bench] {name}: compiled', flush=True)
    times = alternated_times({name: (lambda m=model, w=wrapper: step(m, w, x, loss_fn))
                              for name, (model, wrapper) in runs.items()},
                             args.steps, args.warmup, sync)
    med = {name: median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f'[bench] {name:28s} median {med[name] * 1e3:8.1f} ms/step  '
              f'(min {min(ts) * 1e3:.1f}, max {max(ts) * 1e3:.1f})')
    pairs = [('RBO wrapper / plain wrapper (same RBO model)', RBONN, PLAIN),
             ('RBONN / ReActNet step time', RBONN, BASELINE)]
    for label, numerator, denominator in pairs:
        if denominator in med:
            print(f'[bench] {label}: '
                  f'{ratio_text(times[numerator], times[denominator], " (target <= 1.05)")}')
    if args.compile:
        return
    ops = {name: count_step_ops(*make(*kind, args.depth, dev), x) for name, kind in
           ((BASELINE, ('ReActConv', skip_cls)), (RBONN, ('RBOConv', rbo_cls)))}
    for part in ops[RBONN]:
        print(f'[bench] dispatched aten ops, {part}: ReActNet {ops[BASELINE][part]}, RBONN '
              f'{ops[RBONN][part]}, ratio {ops[RBONN][part] / ops[BASELINE][part]:.3f} '
              '(target <= 1.15)')
    if args.compile_weight_math:
        layers = list(rbo_layers(runs[RBONN][0]).values())
        refresh_ops = sum(count_dispatched_ops(
            lambda: refresh_recurrent_directions(layers)).values())
        grads = [torch.ones_like(layer.weight) for layer in layers]
        constants = [layer.step_constants() for layer in layers]
        backward_ops = sum(count_dispatched_ops(lambda: [
            recurrent_weight_grads(g, *c[1:]) for g, c in zip(grads, constants)]).values())
        compiled_ops = refresh_ops + backward_ops
        rest = ops[RBONN]['whole step'] - compiled_ops
        graphs = torch._dynamo.utils.counters['stats']['unique_graphs']
        print(f'[bench] of RBONN\'s operations, {compiled_ops} (refresh {refresh_ops}, weight '
              f'backward {backward_ops}) ran compiled in the timed steps ({graphs} graphs '
              f'compiled): the rest, {rest}, is '
              f'{rest / ops[BASELINE]["whole step"]:.3f} of ReActNet\'s whole step')


if __name__ == '__main__':
    main()
