"""GPU checks of the binary ops and the RBO wrappers: CUDA vs CPU, and AMP.

Run on a CUDA machine (a developer check, not part of CI, which has no GPU):

    python tools/dev/gpu_checks.py [--device cuda] [--pytest "tests/test_registry.py -k amp"]

1. every 1-bit conv type: forward, input/weight/scale/u gradients and the DReLU
   masks on CUDA equal the CPU results (TF32 off; masks exactly);
2. five RBOOptimWrapper SGD steps of a 1-bit BiResNet-18 on CUDA track the CPU
   run (parameters and previous-gradient buffers);
3. RBOAmpOptimWrapper (fp16, dynamic loss scale): 30 steps stay finite and the
   stored previous gradient is the unscaled one; a NaN loss changes no state.
Prints one line per check and exits non-zero on a failure.
"""
import argparse
import copy
import runpy
import shlex
import sys

from mmcv_without_ops import allow_mmcv_without_compiled_ops  # tools/dev (this directory)

allow_mmcv_without_compiled_ops()

import torch  # noqa: E402

import rbonn_det.registry  # noqa: E402,F401  (registration)
from rbonn_det.binary import RBOConv  # noqa: E402
from rbonn_det.engine import RBOAmpOptimWrapper, RBOOptimWrapper  # noqa: E402
from rbonn_det.models import BiResNet  # noqa: E402
from rbonn_det.models.layers import MODELS  # noqa: E402

FAILED = []


def report(name, ok, detail):
    print(f'[gpu-check] {"PASS" if ok else "FAIL"} {name}: {detail}', flush=True)
    if not ok:
        FAILED.append(name)


def rel_err(a, b):
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def check_conv(conv_type, dev):
    torch.manual_seed(0)
    cpu = MODELS.build(dict(type=conv_type, in_channels=16, out_channels=32, kernel_size=3,
                            stride=1, padding=1, bias=False)).train()
    if isinstance(cpu, RBOConv):  # a previous gradient, so the recurrent step is live
        cpu.prev_grad.copy_(torch.randn_like(cpu.weight) * 1e-2)
    gpu = copy.deepcopy(cpu).to(dev)
    x = torch.randn(4, 16, 20, 20)
    xg = x.to(dev).requires_grad_()
    x.requires_grad_()
    g = torch.randn(4, 32, 20, 20)
    outs = []
    for m, inp, grad in ((cpu, x, g), (gpu, xg, g.to(dev))):
        y = m(inp)
        y.backward(grad)
        outs.append(y)
    errs = {'out': rel_err(outs[1], outs[0]), 'dx': rel_err(xg.grad, x.grad),
            'dW': rel_err(gpu.weight.grad, cpu.weight.grad)}
    for name in ('scale', 'u'):
        if hasattr(cpu, name):
            errs['d' + name] = rel_err(getattr(gpu, name).grad, getattr(cpu, name).grad)
    ok = all(e < 1e-5 for e in errs.values())
    if isinstance(cpu, RBOConv):
        for mode in ('paper', 'released'):
            cpu.mask_mode = gpu.mask_mode = mode
            same = torch.equal(cpu.drelu_mask(), gpu.drelu_mask().cpu())
            errs[f'mask_{mode}_equal'] = same
            ok = ok and same
    report(f'{conv_type} CUDA == CPU', ok,
           ', '.join(f'{k} {v:.1e}' if isinstance(v, float) else f'{k} {v}'
                     for k, v in errs.items()))


def train_steps(model, wrapper, xs):
    losses = []
    for x in xs:
        with wrapper.optim_context(model):
            loss = sum(o.float().pow(2).mean() for o in model(x))
        wrapper.update_params(loss)
        losses.append(loss.item())
    return losses


def check_wrapper_steps(dev, steps=5):
    """float64 on both devices: in float32 a 1-bit network amplifies rounding
    differences (a latent weight near 0 flips sign), so runs drift apart. The
    loss itself is summed in float32 (as in training), hence its looser bound."""
    torch.manual_seed(0)
    cpu = BiResNet(depth=18, conv_cfg=dict(type='RBOConv')).double().train()
    gpu = copy.deepcopy(cpu).to(dev)
    xs = [torch.randn(2, 3, 96, 96, dtype=torch.float64) for _ in range(steps)]
    runs = []
    for model, inputs in ((cpu, xs), (gpu, [x.to(dev) for x in xs])):
        wrapper = RBOOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
        runs.append(train_steps(model, wrapper, inputs))
    params = max(rel_err(pg, pc) for pc, pg in zip(cpu.parameters(), gpu.parameters()))
    convs = [(a, b) for a, b in zip(cpu.modules(), gpu.modules()) if isinstance(a, RBOConv)]
    prev = max(rel_err(b.prev_grad, a.prev_grad) for a, b in convs)
    masks = sum(int((a.drelu_mask() != b.drelu_mask().cpu()).sum()) for a, b in convs)
    channels = sum(a.out_channels for a, _ in convs)
    loss = max(abs(a - b) / abs(a) for a, b in zip(*runs))
    report(f'{steps} RBOOptimWrapper steps, BiResNet-18 float64 CUDA vs CPU',
           params < 1e-8 and prev < 1e-8 and loss < 1e-6 and masks == 0,
           f'loss rel {loss:.1e}, params rel {params:.1e}, prev_grad rel {prev:.1e}, '
           f'mask channels differing {masks}/{channels}')


def check_amp(dev, steps=30):
    torch.manual_seed(0)
    model = BiResNet(depth=18, conv_cfg=dict(type='RBOConv')).to(dev).train()
    wrapper = RBOAmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
        loss_scale='dynamic')
    xs = [torch.randn(4, 3, 128, 128, device=dev) for _ in range(steps)]
    losses = train_steps(model, wrapper, xs)
    convs = [m for m in model.modules() if isinstance(m, RBOConv)]
    finite = all(torch.isfinite(p).all() for p in model.parameters())
    scale = wrapper.loss_scaler.get_scale()
    prev = max(m.prev_grad.abs().max().item() for m in convs)
    report(f'{steps} RBOAmpOptimWrapper fp16 steps', finite and prev < 1e3,
           f'loss {losses[0]:.3g} -> {losses[-1]:.3g}, loss scale {scale:g}, '
           f'max |prev_grad| {prev:.3g} (unscaled), '
           f'non-finite prev grads {wrapper.num_nonfinite_prev_grads}')


def check_amp_nonfinite_skip(dev):
    """A NaN loss under RBOAmpOptimWrapper on CUDA changes nothing: parameters,
    momentum, BN statistics and the RBO previous gradients stay; the next finite
    step trains again."""
    torch.manual_seed(0)
    model = BiResNet(depth=18, conv_cfg=dict(type='RBOConv')).to(dev).train()
    wrapper = RBOAmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
        loss_scale='dynamic')
    x = torch.randn(2, 3, 96, 96, device=dev)

    def state():
        tensors = list(model.state_dict().values())  # params, BN stats, prev_grad
        tensors += [s['momentum_buffer'] for s in wrapper.optimizer.state.values()]
        return [t.detach().clone() for t in tensors]

    def step(poison=False):
        with wrapper.optim_context(model):
            loss = sum(o.float().pow(2).mean() for o in model(x))
            if poison:
                loss = loss * float('nan')
        wrapper.update_params(loss)

    step()
    step()  # momentum buffers exist and prev_grad is non-zero from here on
    before = state()
    step(poison=True)
    unchanged = all(torch.equal(a, b) for a, b in zip(before, state()))
    skipped = wrapper.last_update_skipped
    step()
    moved = not all(torch.equal(a, b) for a, b in zip(before, state()))
    report('RBOAmpOptimWrapper skips a NaN loss on CUDA', unchanged and skipped and moved,
           f'skipped {skipped}, state unchanged {unchanged} ({len(before)} tensors), '
           f'trains on after {moved}')


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--bench', action='append', metavar='"ARGS"',
                        help='then run tools/analysis/benchmark_rbo.py with these arguments '
                             '(repeatable), in this process')
    parser.add_argument('--pytest', metavar='"ARGS"',
                        help='then run pytest with these arguments (the CUDA-only tests) '
                             'in this process, so they import with the same mmcv set-up')
    args = parser.parse_args()
    dev = torch.device(args.device)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'
    print(f'[gpu-check] torch {torch.__version__}, device {name}', flush=True)
    for conv_type in ('RBOConv', 'ReActConv', 'BiRealConv', 'XNORConv', 'BinaryConv'):
        check_conv(conv_type, dev)
    check_wrapper_steps(dev)
    if dev.type == 'cuda':
        check_amp(dev)
        check_amp_nonfinite_skip(dev)
    for bench_args in args.bench or []:
        sys.argv = ['benchmark_rbo.py'] + shlex.split(bench_args)
        runpy.run_path('tools/analysis/benchmark_rbo.py', run_name='__main__')
    if args.pytest:
        import pytest
        if pytest.main(shlex.split(args.pytest)) != 0:
            FAILED.append('pytest')
    sys.exit(1 if FAILED else 0)


if __name__ == '__main__':
    main()
