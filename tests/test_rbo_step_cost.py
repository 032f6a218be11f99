"""The RBO training step's cost structure: the batched DReLU masks equal the
per-layer rule, the cached recurrent direction follows every change of W, s and
the stored gradient, the step's dispatched operations stay at today's ratio to ReActNet's,
and torch.compile traces it without graph breaks and matches eager."""
import copy

import pytest
import torch

import _reference as reference
import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.analysis import count_dispatched_ops
from rbonn_det.binary import (RBOConv, binary_sign, drelu_mask, drelu_masks,
                              refresh_recurrent_directions)
from rbonn_det.binary.sign import binary_signs
from rbonn_det.engine import NonFiniteSkipOptimWrapper, RBOOptimWrapper
from rbonn_det.models import BiResNet


@pytest.mark.parametrize('mode', ['paper', 'released'])
def test_batched_masks_equal_the_per_layer_rule(mode):
    g = torch.Generator().manual_seed(0)
    for trial in range(50):
        cos = torch.randint(1, 40, (int(torch.randint(1, 6, (), generator=g)),), generator=g)
        scales = [torch.randn(int(c), 1, 1, 1, generator=g) for c in cos]
        if trial % 3 == 0:  # ties in alpha and in the L1 norms
            scales = [s.round() + 1 for s in scales]
        weights = [torch.randn(int(c), 3, 3, 3, generator=g).round() for c in cos]
        taus = [float(torch.rand((), generator=g)) * 0.9 + 0.05 for _ in cos]
        ref = [drelu_mask(s.abs(), w, t, mode) for s, w, t in zip(scales, weights, taus)]
        assert all(map(torch.equal, ref, drelu_masks(scales, weights, taus, mode)))
        if mode == 'paper' or trial % 3:  # the released sort leaves the order of ties open
            spec = [reference.mask(s.abs(), w, t, mode) for s, w, t in zip(scales, weights, taus)]
            assert all(map(torch.equal, spec, ref)), trial


def fresh_direction(conv):
    """N = -M * G_prev with the reference mask (tests/_reference.py)."""
    mask = reference.mask(conv.alpha, conv.weight, conv.tau, conv.mask_mode)
    return mask.mul(conv.prev_grad).neg()


def assert_constants_are_fresh(conv):
    """The cached step constants equal the spec's values for the current W, s, u, G_prev."""
    constants = conv.step_constants()
    direction = fresh_direction(conv)
    weight_eff = torch.addcmul(conv.weight, conv.u, direction).detach()
    sign = binary_sign(weight_eff)
    beta, lam = conv.weight_quantizer.beta, conv.weight_quantizer.lam
    n = conv.weight[0].numel()
    binary = sign * (conv.alpha * beta)
    l1 = weight_eff.abs().sum((1, 2, 3), keepdim=True)
    expected = dict(neg_direction=direction, weight_eff=weight_eff, binary=binary,
                    residual=(weight_eff - binary) * lam, alpha=conv.alpha,
                    sign_scale=torch.sign(conv.scale),
                    scale_offset=torch.addcmul(conv.scale * (lam * beta * beta * n),
                                               torch.sign(conv.scale), l1, value=-lam * beta))
    for name, value in expected.items():
        torch.testing.assert_close(getattr(constants, name), value.detach(), rtol=1e-6, atol=0,
                                   msg=name)


def test_cached_direction_follows_every_change():
    torch.manual_seed(0)
    conv = RBOConv(4, 16, 3).train()
    conv.prev_grad.normal_()
    refresh_recurrent_directions([conv])
    assert_constants_are_fresh(conv)
    changes = [lambda: conv.weight.detach().mul_(-1),  # in place, as optimizers update
               lambda: conv.scale.detach().copy_(torch.randn(16, 1, 1, 1)),
               lambda: conv.u.detach().add_(0.5),  # W_eff and W_b depend on u
               lambda: conv.prev_grad.normal_(),
               lambda: conv.load_state_dict({k: torch.randn_like(v)
                                             for k, v in conv.state_dict().items()}),
               lambda: setattr(conv.weight, 'data', torch.randn_like(conv.weight)),  # EMA swap
               lambda: setattr(conv, 'tau', 0.3)]
    for i, change in enumerate(changes):
        before = conv.recurrent_neg_direction()
        change()
        after = conv.recurrent_neg_direction()
        assert after is not before and torch.equal(after, fresh_direction(conv)), i  # recomputed
        assert_constants_are_fresh(conv)
        assert conv.recurrent_neg_direction() is after  # and cached until the next change


def test_batched_refresh_equals_each_layers_own_constants():
    """refresh_recurrent_directions (masks ranked together, _foreach arithmetic) gives
    every layer bit for bit the constants of its own per-layer computation."""
    torch.manual_seed(0)
    layers = [RBOConv(ci, co, k, mask_mode=mode, tau=tau)
              for ci, co, k, mode, tau in ((3, 16, 3, 'paper', 0.6), (16, 8, 1, 'paper', 0.3),
                                           (8, 24, 3, 'released', 0.6), (24, 5, 3, 'paper', 0.9))]
    for layer in layers:
        layer.train().prev_grad.normal_()
        layer.u.data.normal_()
    refresh_recurrent_directions(layers)
    for layer in layers:
        batched = layer.step_constants()
        own = layer._fresh_step_constants()
        for name, a, b in zip(batched._fields, batched, own):
            assert torch.equal(a, b), name


def test_batched_sign_is_binary_sign_on_every_non_nan_value():
    values = torch.tensor([0.0, -0.0, 1e-45, -1e-45, 1e-38, -1e-38, 0.5, -0.5, 3.0, -3.0,
                           float('inf'), float('-inf')])
    for dtype in (torch.float32, torch.float64, torch.float16):
        x = values.to(dtype)
        (signs, ) = binary_signs([x])
        assert torch.equal(signs, binary_sign(x)), dtype
        assert set(signs.tolist()) == {1.0, -1.0}


def test_evaluation_drops_the_step_constants():
    """eval() frees the cached W_b, W_eff, ... (evaluation uses none of them); the next
    training forward computes them again, equal to the spec's values."""
    torch.manual_seed(0)
    conv = RBOConv(4, 16, 3).train()
    conv.prev_grad.normal_()
    refresh_recurrent_directions([conv])
    assert conv._constants is not None
    conv.eval()
    assert conv._constants is None
    conv(torch.randn(1, 4, 6, 6))  # evaluation forward: nothing cached
    assert conv._constants is None
    conv.train()
    conv(torch.randn(1, 4, 6, 6))
    assert_constants_are_fresh(conv)


def test_repr_names_the_rbo_options():
    text = repr(RBOConv(4, 16, 3, tau=0.5, mask_mode='released'))
    assert "tau=0.5, mask_mode='released'" in text, text


def test_the_wrapper_refreshes_before_every_forward():
    """Even a write through .data (no version bump) is seen: the wrapper computes
    the directions of all layers when train_step enters its optim_context."""
    torch.manual_seed(0)
    conv = RBOConv(4, 16, 3).train()
    conv.prev_grad.normal_()
    wrapper = RBOOptimWrapper(optimizer=torch.optim.SGD(conv.parameters(), lr=0.1))
    with wrapper.optim_context(conv):
        first = conv.recurrent_neg_direction()
    conv.scale.data.copy_(torch.randn(16, 1, 1, 1))  # no version bump
    with wrapper.optim_context(conv):
        assert torch.equal(conv.recurrent_neg_direction(), fresh_direction(conv))
    assert not torch.equal(fresh_direction(conv), first)


def twins(model, **option):
    """The model and a deep copy, each with an RBOOptimWrapper (SGD, momentum): the one
    option given as (first twin's value, second twin's value)."""
    (name, values), = option.items()
    models = [model, copy.deepcopy(model)]
    return models, [RBOOptimWrapper(optimizer=torch.optim.SGD(m.parameters(), lr=0.05,
                                                              momentum=0.9), **{name: value})
                    for m, value in zip(models, values)]


def test_unbatched_step_constants_train_identically():
    """RBOOptimWrapper(batch_step_constants=False) (for a compiled forward) leaves the
    constants to each layer's forward: the same steps, bit for bit."""
    torch.manual_seed(0)
    models, wrappers = twins(BiResNet(depth=18).train(), batch_step_constants=(True, False))
    x = torch.randn(2, 3, 32, 32)
    for _ in range(3):
        for model, wrapper in zip(models, wrappers):
            step(model, wrapper, x)
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.equal(a, b)
    assert any(layer.prev_grad.abs().sum() > 0 for layer in models[1].modules()
               if isinstance(layer, RBOConv))


def test_compiled_weight_math_trains_like_the_eager_one(monkeypatch):
    """RBOOptimWrapper(compile_weight_math=True): the refresh and the weight backward
    through torch.compile (inductor; on this CPU its C++ backend) make the eager
    constants to float rounding, for a model with both mask modes (two compiled groups)
    and three layer shapes, and three training steps end at the same parameters and
    stored gradients."""
    from torch import nn

    import rbonn_det.engine.optim_wrapper as optim_wrapper
    said = []  # what the wrapper logs (MMLogger's handlers depend on the tests before)
    monkeypatch.setattr(optim_wrapper, 'print_log', lambda msg, **kwargs: said.append(msg))
    fresh_compiled_twins(monkeypatch)
    torch.manual_seed(0)
    models, wrappers = twins(nn.Sequential(RBOConv(3, 8, 3, padding=1),
                                           RBOConv(8, 16, 3, padding=1),
                                           RBOConv(16, 12, 1, mask_mode='released')).train(),
                             compile_weight_math=(False, True))
    x = torch.randn(2, 3, 12, 12)
    graphs = [torch._dynamo.utils.counters['stats']['unique_graphs']]
    for _ in range(3):
        for model, wrapper in zip(models, wrappers):
            with wrapper.optim_context(model):
                loss = model(x).pow(2).mean()
            wrapper.update_params(loss)
        for eager, compiled in zip(models[0], models[1]):
            for a, b in zip(eager._constants, compiled._constants):
                torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-8)
        graphs.append(torch._dynamo.utils.counters['stats']['unique_graphs'])
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    assert all(layer.prev_grad.abs().sum() > 0 for layer in models[1])
    # it did compile: a refresh graph per mask-mode group, two backward graphs (dynamic
    # shapes; the 1x1 filter is a graph of its own); none more at later steps
    assert [n - graphs[0] for n in graphs[1:]] == [4, 4, 4], graphs
    assert [msg for msg in said if 'compiling the weight math of 3 RBO layers (the refresh '
            'of their step constants, their weight backward) with torch.compile' in msg
            ] == said and len(said) == 1, said


def test_compiled_weight_math_refuses_clearly(monkeypatch):
    import rbonn_det.binary.rbo as rbo
    with pytest.raises(ValueError, match='compile_weight_math=True compiles the batched '
                       'refresh and the backward of its constants, which '
                       'batch_step_constants=False turns off'):
        RBOOptimWrapper(optimizer=torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1),
                        batch_step_constants=False, compile_weight_math=True)

    def broken(*args, **kwargs):
        raise RuntimeError('InductorError: no C++ compiler found\nmore lines')

    monkeypatch.setattr(rbo, '_COMPILED', {rbo.recurrent_step_constants: broken,
                                           rbo.recurrent_weight_grads: broken})
    conv = RBOConv(4, 4, 3).train()
    for name, fails in (
            ('recurrent_step_constants', lambda: refresh_recurrent_directions([conv], True)),
            ('recurrent_weight_grads', lambda: conv(torch.randn(1, 4, 5, 5)).sum().backward())):
        with pytest.raises(RuntimeError, match=rf'torch.compile of {name} failed \(RuntimeError: '
                           r'InductorError: no C\+\+ compiler found\); compute it eagerly '
                           r'instead \(RBOOptimWrapper\(compile_weight_math=False\)'):
            fails()
        conv.set_step_constants(conv.step_constants(), compiled=True)  # made eagerly


def fresh_compiled_twins(monkeypatch):
    """No compiled twin or dynamo cache from earlier tests (they are per process)."""
    import rbonn_det.binary.rbo as rbo
    monkeypatch.setattr(rbo, '_COMPILED', {})
    torch._dynamo.reset()


def test_compiled_weight_backward_compiles_few_graphs_for_many_shapes(monkeypatch):
    """The weight backward compiles with dynamic shapes: a network's many layer shapes
    share a few graphs (they differ only where inductor's guards do: Ci = Co or not,
    1x1 filters, filters over 4096 weights), not one per shape, which past dynamo's
    limit of 8 per function would leave the other layers eager. Nine shapes here; two
    steps equal the eager ones."""
    from torch import nn
    fresh_compiled_twins(monkeypatch)
    torch.manual_seed(0)
    channels = [3, 8, 8, 16, 16, 24, 464, 12, 12, 6]
    kernels = [3, 3, 1, 3, 3, 1, 3, 3, 1]
    models, wrappers = twins(nn.Sequential(*[
        RBOConv(i, o, k, padding=k // 2) for i, o, k in zip(channels, channels[1:], kernels)
    ]).train(), compile_weight_math=(False, True))
    x = torch.randn(1, 3, 6, 6)

    def graphs():
        return torch._dynamo.utils.counters['stats']['unique_graphs']

    start = graphs()
    refresh_recurrent_directions(list(models[1]), compiled=True)
    refresh = graphs() - start
    counts = []
    for _ in range(2):
        for model, wrapper in zip(models, wrappers):
            step(model, wrapper, x)
        counts.append(graphs() - start - refresh)
    # one refresh graph; 3 backward graphs with torch 2.13, none at the second step
    assert refresh == 1 and 2 <= counts[0] <= 4 and counts[1] == counts[0], (refresh, counts)
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    assert all(layer.prev_grad.abs().sum() > 0 for layer in models[1])


def step(model, wrapper, x):
    with wrapper.optim_context(model):
        loss = sum(o.pow(2).mean() for o in model(x))
    wrapper.update_params(loss)


def test_rbo_step_dispatch_count_against_reactnet():
    """Deterministic for a torch version. torch 2.13, whole step: RBONN 836 vs
    ReActNet 755 = 1.107x, the issue's target <= 1.15x (docs/benchmarks.md: it was
    908 = 1.203x before W_b, W_eff and the g-free parts of the gradients became step
    constants computed for all layers at once: a conv's training forward is one view,
    its backward six operations). Pins the target."""
    counts = {}
    x = torch.randn(2, 3, 64, 64)
    for conv, wrapper_cls in (('ReActConv', NonFiniteSkipOptimWrapper),
                              ('RBOConv', RBOOptimWrapper)):
        torch.manual_seed(0)
        model = BiResNet(depth=18, conv_cfg=dict(type=conv)).train()
        wrapper = wrapper_cls(optimizer=torch.optim.SGD(model.parameters(), lr=1e-3,
                                                        momentum=0.9, foreach=True))
        step(model, wrapper, x)  # steady state: stored gradients, fresh directions
        counts[conv] = sum(count_dispatched_ops(lambda: step(model, wrapper, x)).values())
    assert counts['RBOConv'] / counts['ReActConv'] <= 1.15, counts


def test_compiled_training_step_matches_eager():
    """BiResNet-18 RBO steps under torch.compile: one graph, no break; float64, so
    that no pre-sign value sits within rounding of 0 (in fp32 inductor's reordered
    sums flip a few such signs, which a 1-bit network carries on)."""
    torch.manual_seed(0)
    eager = BiResNet(depth=18).train().double()
    traced = copy.deepcopy(eager)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)

    def loss_of(model, inputs):
        return sum(o.pow(2).mean() for o in model(inputs))

    explanation = torch._dynamo.explain(loss_of)(copy.deepcopy(traced), x)  # BN stats move
    assert explanation.graph_count == 1 and explanation.graph_break_count == 0
    compiled = torch.compile(loss_of)
    wrappers = [RBOOptimWrapper(optimizer=torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9))
                for m in (eager, traced)]
    for _ in range(3):
        losses = []
        for model, fn, wrapper in ((eager, loss_of, wrappers[0]), (traced, compiled, wrappers[1])):
            with wrapper.optim_context(model):
                loss = fn(model, x)
            wrapper.update_params(loss)
            losses.append(loss.item())
        assert losses[0] == pytest.approx(losses[1], rel=1e-12, abs=0)
    for a, b in zip(eager.parameters(), traced.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(eager.buffers(), traced.buffers()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.slow  # the float64 test above checks the compiled step in CI
def test_compiled_fp32_step_matches_eager_gradients():
    """The issue's setting (fp32, CPU): from the same state a compiled RBO step gives
    the eager loss and gradients to float tolerance (with stored previous gradients,
    so the recurrent step is in the graph). Later steps diverge: a latent weight within
    ~1e-7 of 0 flips sign under the reordered sums, and the 1-bit network amplifies it
    (the float64 test above shows the step itself is the same)."""
    torch.manual_seed(0)
    model = BiResNet(depth=18).train()
    for layer in model.modules():
        if isinstance(layer, RBOConv):
            layer.prev_grad.normal_(std=1e-3)
    x = torch.randn(2, 3, 64, 64)

    def loss_of(m, inputs):
        return sum(o.pow(2).mean() for o in m(inputs))

    results = []
    for fn in (loss_of, torch.compile(loss_of)):
        m = copy.deepcopy(model)
        loss = fn(m, x)
        loss.backward()
        results.append((loss.detach(), [p.grad for p in m.parameters()]))
    (eager_loss, eager_grads), (traced_loss, traced_grads) = results
    torch.testing.assert_close(traced_loss, eager_loss, rtol=1e-5, atol=0)
    for a, b in zip(eager_grads, traced_grads):
        assert (a - b).abs().max() <= 2e-4 * a.abs().max() + 1e-9


def test_paired_ratio_is_the_median_round_ratio_with_the_sign_test_interval():
    from rbonn_det.utils.timing import paired_ratio
    # ten rounds: the 95 % order-statistic interval of a median is [2nd, 9th] smallest
    # (P(Binomial(10, 1/2) <= 1) = 11/1024 <= 0.025 < P(<= 2) = 56/1024)
    numerator = [1.0 + i / 100 for i in (5, 0, 9, 2, 7, 1, 8, 3, 6, 4)]
    ratio, low, high = paired_ratio([2 * t for t in numerator], [2.0] * 10)
    assert (round(ratio, 6), round(low, 6), round(high, 6)) == (1.045, 1.01, 1.08)
    # the ratio is taken per round: a slow round slows both runs and cancels
    assert paired_ratio([1.0, 3.0, 2.0], [1.0, 3.0, 2.0]) == (1.0, 1.0, 1.0)
    # fewer than 6 rounds reach no 95 % interval: the extremes
    assert paired_ratio([1.0, 2.0, 4.0], [1.0] * 3) == (2.0, 1.0, 4.0)
    with pytest.raises(ValueError, match='equally long'):
        paired_ratio([1.0], [1.0, 2.0])
