"""RBOOptimWrapper inside MMEngine against the released training loop order."""
import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, build_optim_wrapper
from torch import nn

import _reference as reference
from rbonn_det.binary import LearnableBias, RBOConv
from rbonn_det.engine import RBOOptimWrapper


class TinyRBONet(BaseModel):
    """Two RBO convs with the ReActNet shifts, a real head, an MSE loss. ``forward``
    uses the model's own convs; ``predict_with`` another conv function (the reference)."""

    def __init__(self, mask_mode='paper'):
        super().__init__()
        self.move0 = LearnableBias(3)
        self.conv1 = RBOConv(3, 8, 3, padding=1, bias=False, mask_mode=mask_mode)
        self.move1 = LearnableBias(8)
        self.conv2 = RBOConv(8, 6, 3, padding=1, bias=False, mask_mode=mask_mode)
        self.head = nn.Linear(6, 2)

    def predict_with(self, conv, inputs):
        x = conv(self.conv1, self.move0(inputs))
        x = conv(self.conv2, self.move1(x))
        return self.head(x.mean((2, 3)))

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=F.mse_loss(self.predict_with(lambda c, x: c(x), inputs), data_samples))


def batches(n, seed=0, target_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [dict(inputs=torch.randn(4, 3, 6, 6, generator=g, dtype=torch.float64),
                 data_samples=target_scale * torch.randn(4, 2, generator=g, dtype=torch.float64))
            for _ in range(n)]


def make_model(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyRBONet(**kw).double()


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def released_loop(model, data, conv=None):
    """The released training loop on ``model`` with the reference conv
    (tests/_reference.py, transcribed from the released RBONN code): forward (reading the
    previous step's W.grad), zero_grad, backward, step. Returns per step (loss,
    {name: parameter})."""
    conv = conv or reference.ReleasedRBOConv()
    opt = sgd(model)
    history = []
    for batch in data:
        loss = F.mse_loss(model.predict_with(lambda c, x: conv.conv2d(c, x, padding=1),
                                             batch['inputs']), batch['data_samples'])
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((loss.detach(), {n: p.detach().clone() for n, p in model.named_parameters()}))
    return history


# float64 and 12 steps, with targets large enough that the recurrent step matters (u moves
# ~1e-4 .. 0.1): a mask cut off by one or dL/du without its lambda term moves the parameters
# by >= 1e-5, five orders above this tolerance (checked in the test itself)
EQUIVALENCE_ATOL = 1e-10


def max_parameter_difference(history, other):
    return max((a - b).abs().max().item() for (_, ps), (_, qs) in zip(history, other)
               for a, b in zip(ps.values(), qs.values()))


@pytest.mark.parametrize('mask_mode', ['paper', 'released'])
def test_mmengine_training_equals_released_loop(mask_mode):
    data = batches(12, target_scale=4.0)
    model = make_model(mask_mode=mask_mode)
    start = copy.deepcopy(model)
    ref = released_loop(copy.deepcopy(start), data)
    wrapper = RBOOptimWrapper(sgd(model))
    for step, (batch, (ref_loss, ref_params)) in enumerate(zip(data, ref)):
        log = model.train_step(batch, wrapper)
        torch.testing.assert_close(log['loss'], ref_loss, rtol=0, atol=EQUIVALENCE_ATOL)
        for name, p in model.named_parameters():
            torch.testing.assert_close(p, ref_params[name], rtol=0, atol=EQUIVALENCE_ATOL,
                                       msg=f'{name} at step {step}')
        if step >= 1:  # u trains from the 2nd update on; zero_grad ran (MMEngine order)
            assert model.conv1.u.grad is None
    # the recurrent step really moved u, in both layers
    for conv in (model.conv1, model.conv2):
        assert (conv.u - 0.2).abs().max() > 1e-5
    # the tolerance sees the slips the batched implementation could make
    for slip in (dict(cut_shift=1), dict(cut_shift=-1), dict(du_lambda=False)):
        slipped = released_loop(copy.deepcopy(start), data, reference.ReleasedRBOConv(**slip))
        assert max_parameter_difference(ref, slipped) > 1e3 * EQUIVALENCE_ATOL, slip


def test_u_gets_gradient_from_the_second_step():
    model = make_model()
    wrapper = RBOOptimWrapper(sgd(model))
    u_grads = []
    orig_step = wrapper.optimizer.step

    def spy(*a, **k):
        u_grads.append(model.conv2.u.grad.abs().sum().item())
        return orig_step(*a, **k)

    wrapper.optimizer.step = spy
    for batch in batches(3):
        model.train_step(batch, wrapper)
    assert u_grads[0] == 0 and u_grads[1] > 0 and u_grads[2] > 0


def test_prev_grad_is_the_stepped_gradient():
    model = make_model()
    wrapper = RBOOptimWrapper(sgd(model), clip_grad=dict(max_norm=0.01))
    seen = {}
    orig_zero = wrapper.optimizer.zero_grad

    def spy(*a, **k):
        seen['grad'] = model.conv1.weight.grad.clone()  # after clip + step
        return orig_zero(*a, **k)

    wrapper.optimizer.zero_grad = spy
    model.train_step(batches(1)[0], wrapper)
    assert torch.equal(model.conv1.prev_grad, seen['grad'])
    assert model.conv1.weight.grad is None


def test_accumulation_takes_gradient_only_on_stepping_iterations():
    model = make_model()
    wrapper = RBOOptimWrapper(sgd(model), accumulative_counts=2)
    data = batches(4)
    model.train_step(data[0], wrapper)
    assert torch.count_nonzero(model.conv1.prev_grad) == 0  # no step yet
    model.train_step(data[1], wrapper)
    first = model.conv1.prev_grad.clone()
    assert torch.count_nonzero(first) > 0
    model.train_step(data[2], wrapper)
    assert torch.equal(model.conv1.prev_grad, first)  # unchanged on a non-stepping iteration
    model.train_step(data[3], wrapper)
    assert not torch.equal(model.conv1.prev_grad, first)


def test_resume_from_state_dict_continues_identically(tmp_path):
    data = batches(4)
    model = make_model()
    wrapper = RBOOptimWrapper(sgd(model))
    for batch in data[:2]:
        model.train_step(batch, wrapper)
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(model=model.state_dict(), optim=wrapper.state_dict()), path)
    for batch in data[2:]:
        model.train_step(batch, wrapper)

    resumed = make_model(seed=123)  # different init: everything must come from the file
    state = torch.load(path, weights_only=True)
    resumed.load_state_dict(state['model'])
    assert torch.count_nonzero(resumed.conv1.prev_grad) > 0
    rwrapper = RBOOptimWrapper(sgd(resumed))
    rwrapper.load_state_dict(state['optim'])
    for batch in data[2:]:
        resumed.train_step(batch, rwrapper)
    for p, q in zip(model.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(p, q)


def test_loading_a_checkpoint_without_recurrent_state_starts_it_empty():
    model = make_model()
    model.conv1.prev_grad.fill_(1.0)
    state = {k: v for k, v in make_model(1).state_dict().items() if 'prev_grad' not in k}
    result = model.load_state_dict(state, strict=True)  # no missing-key error
    assert not result.missing_keys
    assert torch.count_nonzero(model.conv1.prev_grad) == 0


def test_eval_output_independent_of_stored_gradient():
    model = make_model()
    x = batches(1)[0]['inputs']
    model.eval()
    with torch.no_grad():
        before = model.conv2(model.move1(model.conv1(model.move0(x))))
    model.train()
    model.train_step(batches(1, seed=1)[0], RBOOptimWrapper(torch.optim.SGD(model.parameters(), lr=0)))
    assert torch.count_nonzero(model.conv1.prev_grad) > 0
    model.eval()
    with torch.no_grad():
        after = model.conv2(model.move1(model.conv1(model.move0(x))))
    assert torch.equal(before, after)


def test_nonfinite_gradient_skips_that_layers_recurrent_step():
    model = make_model()
    wrapper = RBOOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    wrapper.bind(model)
    model.conv1.weight.grad = torch.full_like(model.conv1.weight, float('nan'))
    model.conv2.weight.grad = torch.ones_like(model.conv2.weight)
    wrapper.step()
    assert torch.count_nonzero(model.conv1.prev_grad) == 0
    assert torch.equal(model.conv2.prev_grad, torch.ones_like(model.conv2.weight))
    assert wrapper.num_nonfinite_prev_grads == 1


def test_warns_once_without_rbo_conv():
    model = nn.Sequential(nn.Conv2d(3, 3, 1))
    wrapper = RBOOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        for _ in range(3):
            with wrapper.optim_context(model):
                loss = model(torch.randn(1, 3, 4, 4)).sum()
            wrapper.update_params(loss)
    msgs = [str(w.message) for w in rec if 'no RBOConv' in str(w.message)]
    assert len(msgs) == 1 and 'plain OptimWrapper' in msgs[0]


def test_paramwise_groups_from_the_base_config():
    from mmengine.config import Config
    cfg = Config.fromfile('configs/_base_/rbo_optim_wrapper.py')
    model = make_model()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper, RBOOptimWrapper)
    base_lr = cfg.optim_wrapper.optimizer.lr
    base_wd = cfg.optim_wrapper.optimizer.weight_decay
    by_param = {id(p): g for g in wrapper.optimizer.param_groups for p in g['params']}
    names = dict(model.named_parameters())
    expect = {
        'conv1.u': (0.1 * base_lr, 0.0), 'conv1.scale': (base_lr, base_wd),
        'move0.bias': (base_lr, base_wd), 'conv1.weight': (base_lr, base_wd),
        'head.weight': (base_lr, base_wd),
    }
    for name, (lr, wd) in expect.items():
        group = by_param[id(names[name])]
        assert group['lr'] == pytest.approx(lr) and group['weight_decay'] == pytest.approx(wd), name
    # the wrapper's own options pass through the config (as --cfg-options sets them)
    cfg.optim_wrapper.compile_weight_math = True
    assert build_optim_wrapper(make_model(), cfg.optim_wrapper).compile_weight_math is True


def test_mmengine_order_leaves_no_gradient_at_forward_time():
    """The pitfall the wrapper exists for. The released loop (forward, zero_grad,
    backward, step) finds W.grad at every forward after the first, which is what
    its recurrent step reads; MMEngine's OptimWrapper (backward, step, zero_grad with
    set_to_none) leaves W.grad None at every forward, so a port reading .grad there
    would never recur. RBOOptimWrapper keeps the gradient in prev_grad instead."""
    def grads_seen_at_forward(step):
        model = make_model()
        seen = []
        model.conv1.register_forward_pre_hook(
            lambda m, args: seen.append(m.weight.grad is not None))
        step(model, batches(3))
        return model, seen

    def released_loop(model, data):
        opt = sgd(model)
        for batch in data:
            loss = model(batch['inputs'], batch['data_samples'])['loss']
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()

    def mmengine_loop(wrapper_cls):
        def run(model, data):
            wrapper = wrapper_cls(sgd(model))
            for batch in data:
                model.train_step(batch, wrapper)
        return run

    assert grads_seen_at_forward(released_loop)[1] == [False, True, True]
    plain, seen = grads_seen_at_forward(mmengine_loop(OptimWrapper))
    assert seen == [False, False, False]
    assert torch.count_nonzero(plain.conv1.prev_grad) == 0
    rbo, seen = grads_seen_at_forward(mmengine_loop(RBOOptimWrapper))
    assert seen == [False, False, False] and torch.count_nonzero(rbo.conv1.prev_grad) > 0


def test_parameter_groups_are_logged_in_one_line():
    """mmengine logs two lines per custom-key parameter; the constructor shows one."""
    import logging

    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile('configs/toy/rbonn_faster_rcnn_toy.py')
    model = MODELS.build(cfg.model)
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        build_optim_wrapper(model, cfg.optim_wrapper)
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if r.startswith('paramwise_options')]
    assert [r for r in records if r.startswith('RBO parameter groups')] == [
        "RBO parameter groups: 25 u with lr_mult=0.1, decay_mult=0.0; other parameters at the "
        "optimizer's lr and weight decay (100 per-parameter lines not shown)"]


def test_rbo_groups_without_paramwise_cfg_are_the_released_ones():
    """The constructor alone (no paramwise_cfg): u at 0.1x the lr without weight decay,
    the released code's group; everything else at the optimizer's own."""
    model = make_model()
    wrapper = build_optim_wrapper(model, dict(
        type='RBOOptimWrapper', constructor='RBOOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=0.01)))
    by_param = {id(p): g for g in wrapper.optimizer.param_groups for p in g['params']}
    for name, p in model.named_parameters():
        group = by_param[id(p)]
        expect = (0.05, 0.0) if name.endswith('.u') else (0.5, 0.01)
        assert (group['lr'], group['weight_decay']) == pytest.approx(expect), name
