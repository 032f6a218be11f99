"""The RBO training step's cost structure: the batched DReLU masks equal the
per-layer rule, the cached recurrent direction follows every change of W, s and
the stored gradient, the step's dispatched operations stay at today's ratio to ReActNet's,
and torch.compile traces it without graph breaks and matches eager."""
import copy

import pytest
import torch

import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.analysis import count_dispatched_ops
from rbonn_det.binary import RBOConv, drelu_mask, drelu_masks, refresh_recurrent_directions
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


def fresh_direction(conv):
    return drelu_mask(conv.alpha, conv.weight, conv.tau, conv.mask_mode).mul(conv.prev_grad).neg()


def test_cached_direction_follows_every_change():
    torch.manual_seed(0)
    conv = RBOConv(4, 16, 3).train()
    conv.prev_grad.normal_()
    refresh_recurrent_directions([conv])
    assert torch.equal(conv.recurrent_neg_direction(), fresh_direction(conv))
    changes = [lambda: conv.weight.detach().mul_(-1),  # in place, as optimizers update
               lambda: conv.scale.detach().copy_(torch.randn(16, 1, 1, 1)),
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
        assert conv.recurrent_neg_direction() is after  # and cached until the next change


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


def step(model, wrapper, x):
    with wrapper.optim_context(model):
        loss = sum(o.pow(2).mean() for o in model(x))
    wrapper.update_params(loss)


def test_rbo_step_dispatch_count_against_reactnet():
    """Deterministic for a torch version. torch 2.13, whole step: RBONN 908 vs
    ReActNet 755 = 1.203x. The target was 1.15x against the ReActNet conv of the
    time (883 ops: RBONN's 1000 met it at 1.133x); the released ReActNet rule
    (alpha detached, clipped STE) is cheaper, and RBONN's floor is about 9 extra ops
    per conv: two more parameters (s, u: gradient accumulation, reductions), the L1
    norms of the paper's mask, the bilinear backward's W-coupled dL/ds
    (docs/benchmarks.md). This pins today's cost against regressions."""
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
    assert counts['RBOConv'] / counts['ReActConv'] <= 1.21, counts


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
