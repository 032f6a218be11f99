"""The 1-bit building blocks pinned to docs/method.md with numbers."""
import pytest
import torch
import torch.nn.functional as F

import _reference as reference
from rbonn_det.binary import (BiRealConv, BinaryConv2d, LearnableBias, ReActConv, RBOConv,
                              RPReLU, XNORConv, approx_sign, bilinear_binarize, binary_sign,
                              drelu_mask)



@pytest.fixture(autouse=True, scope='module')
def float64_default():
    """float64 for this module's tests only (a module-level call would also hit every
    test that runs before this module, since pytest imports all modules first)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def test_binary_sign_maps_zero_to_plus_one():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-30, 3.0])
    assert binary_sign(x).tolist() == [-1.0, 1.0, 1.0, 1.0, 1.0]


def test_approx_sign_gradient_is_bireal_piecewise_quadratic():
    x = torch.tensor([-1.5, -1.0, -0.75, -0.25, 0.0, 0.25, 0.75, 0.999, 1.0, 2.0],
                     requires_grad=True)
    y = approx_sign(x)
    assert y.tolist() == [-1, -1, -1, -1, 1, 1, 1, 1, 1, 1]
    y.backward(torch.ones_like(y))
    # 2+2x on [-1,0), 2-2x on [0,1), 0 elsewhere
    expected = [0.0, 0.0, 0.5, 1.5, 2.0, 1.5, 0.5, 2 - 2 * 0.999, 0.0, 0.0]
    torch.testing.assert_close(x.grad, torch.tensor(expected), rtol=0, atol=1e-12)


def make_rbo(co=6, ci=3, k=3, **kw):
    torch.manual_seed(0)
    conv = RBOConv(ci, co, k, padding=1, bias=False, **kw)
    return conv


def test_rbo_forward_is_conv_of_signs_exactly():
    conv = make_rbo()
    x = torch.randn(2, 3, 7, 7)
    x[0, 0, :2, :2] = 0.0  # exact zeros binarize to +1
    alpha = conv.scale.abs()
    expected = F.conv2d(reference.sign(x), alpha * 0.02 * reference.sign(conv.weight), padding=1)
    for mode in (True, False):  # train (no previous gradient yet) and eval
        conv.train(mode)
        assert torch.equal(conv(x), expected)


def test_bilinear_backward_matches_spec_formulas():
    torch.manual_seed(1)
    lam, beta = 1e-4, 0.02
    w = torch.randn(5, 4, 3, 3, requires_grad=True)
    alpha = torch.rand(5, 1, 1, 1).add(0.1).requires_grad_()
    g = torch.randn(5, 4, 3, 3)
    wb = bilinear_binarize(w, alpha, beta, lam)
    assert torch.equal(wb, alpha * beta * reference.sign(w))
    wb.backward(g)
    b = beta * reference.sign(w.detach())
    res = w.detach() - b * alpha.detach()
    dw = g * alpha.detach() + lam * res
    dalpha = (g * w.detach()).sum((1, 2, 3), keepdim=True) - lam * (res * b).sum((1, 2, 3),
                                                                              keepdim=True)
    torch.testing.assert_close(w.grad, dw, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(alpha.grad, dalpha, rtol=1e-12, atol=1e-14)


def test_bilinear_lambda_terms_alone_with_zero_upstream_gradient():
    torch.manual_seed(2)
    lam, beta = 0.3, 0.5
    w = torch.randn(3, 2, 3, 3, requires_grad=True)
    alpha = torch.rand(3, 1, 1, 1).add(0.5).requires_grad_()
    bilinear_binarize(w, alpha, beta, lam).backward(torch.zeros(3, 2, 3, 3))
    # exactly the gradients of G = lam/2 ||W - alpha*beta*sign(W)||^2
    w2, a2 = w.detach().clone().requires_grad_(), alpha.detach().clone().requires_grad_()
    (0.5 * lam * (w2 - a2 * beta * reference.sign(w2.detach())).pow(2).sum()).backward()
    torch.testing.assert_close(w.grad, w2.grad, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(alpha.grad, a2.grad, rtol=1e-12, atol=1e-15)
    assert w.grad.abs().sum() > 0 and alpha.grad.abs().sum() > 0


def test_scale_gradient_through_abs():
    conv = make_rbo(co=4, ci=2)
    with torch.no_grad():
        conv.scale.copy_(torch.tensor([-1.0, 0.5, -0.25, 2.0]).view(4, 1, 1, 1))
    x = torch.randn(1, 2, 5, 5)
    out = conv(x)
    g = torch.randn_like(out)
    out.backward(g)
    # dL/dW_b by autograd of conv2d, then the spec's dalpha, then ds = dalpha*sign(s)
    wb = (conv.scale.abs() * 0.02 * reference.sign(conv.weight)).detach().requires_grad_()
    F.conv2d(reference.sign(x), wb, padding=1).backward(g)
    w = conv.weight.detach()
    b = 0.02 * reference.sign(w)
    res = w - b * conv.scale.abs().detach()
    dalpha = (wb.grad * w).sum((1, 2, 3), keepdim=True) - 1e-4 * (res * b).sum(
        (1, 2, 3), keepdim=True)
    torch.testing.assert_close(conv.scale.grad, dalpha * torch.sign(conv.scale.detach()))
    torch.testing.assert_close(conv.weight.grad, wb.grad * conv.scale.abs().detach() + 1e-4 * res)


def test_zero_scale_channel_gets_finite_spec_gradients():
    # a channel with s = 0 (W_b = 0) or a tiny |s| gets the spec's gradients: the
    # training backward must not recover sign(W_eff) from W_b / |s|
    conv = make_rbo(co=3, ci=2)
    with torch.no_grad():
        conv.scale.copy_(torch.tensor([0.0, -0.5, 1e-300]).view(3, 1, 1, 1))
    conv.train()
    out = conv(torch.randn(1, 2, 5, 5))
    out.backward(torch.randn_like(out))
    w = conv.weight.detach()
    assert torch.isfinite(conv.weight.grad).all() and torch.isfinite(conv.scale.grad).all()
    torch.testing.assert_close(conv.weight.grad[0], 1e-4 * w[0])  # g * 0 + lam * (W - 0)
    assert conv.scale.grad[0].item() == 0  # sgn(0) = 0
    # |s| = 1e-300: dL/ds keeps the -lam*beta*sum|W| term
    g = out.new_zeros(out.shape)
    conv.zero_grad()
    conv(torch.randn(1, 2, 5, 5)).backward(g)
    torch.testing.assert_close(conv.scale.grad[2].flatten(),
                               -1e-4 * 0.02 * w[2].abs().sum().view(1), rtol=1e-6, atol=0)


def test_recurrent_step_and_u_gradient():
    conv = make_rbo(co=10, ci=3)
    torch.manual_seed(3)
    conv.prev_grad.copy_(torch.randn_like(conv.weight))
    conv.train()
    mask = reference.paper_mask(conv.scale.abs(), conv.weight, 0.6)
    assert 0 < mask.sum() < 10
    w_eff = conv.weight.detach() - conv.u.detach() * mask * conv.prev_grad
    x = torch.randn(2, 3, 6, 6)
    out = conv(x)
    expected = F.conv2d(reference.sign(x), conv.scale.abs() * 0.02 * reference.sign(w_eff),
                        padding=1)
    assert torch.equal(out, expected)
    out.pow(2).sum().backward()
    # g = dL/dW_b by autograd of the plain conv; then the spec's formulas with W_eff for W:
    # dL/dW = dL/dW_eff = g * alpha + lam * (W_eff - W_b); dL/du = -sum(dL/dW_eff * M * G_prev)
    wb = (conv.scale.abs() * 0.02 * reference.sign(w_eff)).detach().requires_grad_()
    F.conv2d(reference.sign(x), wb, padding=1).pow(2).sum().backward()
    dw = wb.grad * conv.scale.abs().detach() + 1e-4 * (w_eff - wb.detach())
    torch.testing.assert_close(conv.weight.grad, dw, rtol=1e-12, atol=1e-15)
    du = -(dw * mask * conv.prev_grad).sum((1, 2, 3), keepdim=True)
    torch.testing.assert_close(conv.u.grad, du, rtol=1e-12, atol=1e-15)
    assert (conv.u.grad[mask.bool()] != 0).all() and (conv.u.grad[~mask.bool()] == 0).all()


def test_no_previous_gradient_means_w_eff_equals_w_and_zero_u_grad():
    conv = make_rbo()
    conv.train()
    assert torch.equal(conv.effective_weight(), conv.weight)
    conv(torch.randn(1, 3, 5, 5)).sum().backward()
    assert torch.equal(conv.u.grad, torch.zeros_like(conv.u))


def test_eval_mode_ignores_gradient_state():
    conv = make_rbo()
    x = torch.randn(2, 3, 6, 6)
    conv.eval()
    before = conv(x)
    conv.prev_grad.copy_(torch.randn_like(conv.weight))
    assert torch.equal(conv(x), before)
    conv.train()
    assert not torch.equal(conv(x), before)  # the recurrent step is live in training


# ------------------------------------------------------------------- DReLU masks
def mask_list(alpha, l1, tau, mode):
    co = len(alpha)
    alpha = torch.tensor(alpha, dtype=torch.float64).view(co, 1, 1, 1)
    # a weight whose per-channel L1 norms are exactly l1
    weight = torch.tensor(l1, dtype=torch.float64).view(co, 1, 1, 1)
    return drelu_mask(alpha, weight, tau, mode).view(-1).int().tolist()


def test_paper_mask_hand_made():
    # Co=5, tau=0.6 -> T=3: D keeps the 2 largest. D(1/alpha): channels with the two
    # smallest alphas = {1, 3}. D(l1): two largest L1 = {3, 4}. M = {1,3} minus {3,4} = {1}.
    assert mask_list([0.9, 0.1, 0.5, 0.2, 0.7], [1, 2, 3, 9, 8], 0.6, 'paper') == [0, 1, 0, 0, 0]
    # tau=0.2 -> T=1: D keeps the 4 largest; small-alpha: all but ch0 (largest alpha);
    # large-l1: all but ch0 (smallest l1) -> M empty
    assert mask_list([0.9, 0.1, 0.5, 0.2, 0.7], [1, 2, 3, 9, 8], 0.2, 'paper') == [0] * 5


def test_paper_mask_ties_break_by_channel_index():
    # all alphas equal: ranks follow channel index, T=int(4*0.5)=2 -> D(1/alpha)={2,3};
    # all L1 equal -> D(l1)={2,3}; M empty. With distinct L1 favouring ch 0,1 -> M={2,3}.
    assert mask_list([0.5] * 4, [1, 1, 1, 1], 0.5, 'paper') == [0, 0, 0, 0]
    assert mask_list([0.5] * 4, [4, 3, 2, 1], 0.5, 'paper') == [0, 0, 1, 1]


def test_paper_mask_small_channel_counts():
    assert mask_list([0.3], [1.0], 0.6, 'paper') == [0]  # T=0: D(.) is everything
    # Co=2, T=1: small-alpha = {1}; large-l1 = {0} -> M = {1}
    assert mask_list([0.9, 0.1], [5, 1], 0.6, 'paper') == [0, 1]
    assert mask_list([0.9, 0.1], [1, 5], 0.6, 'paper') == [0, 0]


def test_released_mask_reproduces_released_rule():
    # idx = argsort(alpha) = [1, 3, 2, 4, 0]; cut = int(5 * 0.4) = 2;
    # M_c = idx[c] < 2 -> c=0 (idx 1), c=4 (idx 0)
    assert mask_list([0.9, 0.1, 0.5, 0.2, 0.7], [0] * 5, 0.6, 'released') == [1, 0, 0, 0, 1]
    # the released rule ignores L1 norms
    assert mask_list([0.9, 0.1, 0.5, 0.2, 0.7], [9, 8, 7, 6, 5], 0.6, 'released') == [1, 0, 0, 0, 1]
    # Co=1 and Co=2: cut = int(0.4) = int(0.8) = 0 -> nothing backtracks
    assert mask_list([0.3], [1], 0.6, 'released') == [0]
    assert mask_list([0.3, 0.1], [1, 1], 0.6, 'released') == [0, 0]
    # ties: stable argsort; Co=3, tau=0.6 -> cut=int(1.2)=1; idx=[0,1,2] -> M=[1,0,0]
    assert mask_list([0.5, 0.5, 0.5], [1, 1, 1], 0.6, 'released') == [1, 0, 0]
    # against the transcription of the released drelu (tests/_reference.py: torch.sort,
    # then the sign arithmetic on the sorted indices) on random alphas
    torch.manual_seed(4)
    for co in (3, 7, 16, 64):
        alpha = torch.rand(co)
        expect = reference.released_indicator(alpha.view(co, 1, 1, 1)).view(-1).int().tolist()
        assert mask_list(alpha.tolist(), [1] * co, 0.6, 'released') == expect


def test_paper_mask_against_rank_definition_random():
    torch.manual_seed(5)
    for co in (1, 2, 3, 8, 33):
        alpha, l1 = torch.rand(co) + 0.01, torch.rand(co)
        cut = int(co * 0.6)
        rank = lambda v: [sorted(range(co), key=lambda i: (v[i], i)).index(c) for c in range(co)]
        ra, rl = rank((1 / alpha).tolist()), rank(l1.tolist())
        expect = [int(ra[c] >= cut and not rl[c] >= cut) for c in range(co)]
        assert mask_list(alpha.tolist(), l1.tolist(), 0.6, 'paper') == expect


# --------------------------------------------------------------- argument errors
@pytest.mark.parametrize('kwargs, match', [
    (dict(tau=0.0), 'tau must be in \\(0, 1\\)'), (dict(tau=1.0), 'tau'),
    (dict(beta=0.0), 'beta must be > 0'), (dict(lam=-1e-3), 'lam must be >= 0'),
    (dict(mask_mode='both'), "mask_mode must be one of \\('paper', 'released'\\)"),
])
def test_rbo_conv_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RBOConv(4, 4, 3, **kwargs)


def test_unknown_quantizer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown weight_quantizer 'ternary'"):
        BinaryConv2d(4, 4, 3, weight_quantizer='ternary')


# ---------------------------------------------------------------- baselines
# Transcriptions of the released training rules (written here from their
# descriptions in docs/method.md "Baselines"), each step as the released code does it
# (their activation, Bi-Real's BinaryActivation: tests/_reference.py).
def released_hard_binary_conv(x, real_weights, padding):
    """Bi-Real / ReActNet HardBinaryConv."""
    scaling_factor = real_weights.abs().mean(dim=3, keepdim=True).mean(dim=2, keepdim=True)
    scaling_factor = scaling_factor.mean(dim=1, keepdim=True).detach()
    binary_weights_no_grad = scaling_factor * torch.sign(real_weights)
    cliped_weights = torch.clamp(real_weights, -1.0, 1.0)
    binary_weights = binary_weights_no_grad.detach() - cliped_weights.detach() + cliped_weights
    return F.conv2d(x, binary_weights, padding=padding)


@pytest.mark.parametrize('cls', [BiRealConv, ReActConv])
def test_bireal_and_reactnet_follow_released_hard_binary_conv(cls):
    torch.manual_seed(6)
    conv = cls(4, 3, 3, padding=1, bias=False)
    with torch.no_grad():  # some latent weights outside [-1, 1]: the clip must show
        conv.weight.normal_(std=0.8)
    assert (conv.weight.abs() > 1).any() and type(conv).forward is BinaryConv2d.forward
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    ref_w = conv.weight.detach().clone().requires_grad_()
    ref_x = x.detach().clone().requires_grad_()
    g = torch.randn(2, 3, 6, 6)
    conv(x).backward(g)
    ref = released_hard_binary_conv(reference.bireal_activation(ref_x), ref_w, padding=1)
    ref.backward(g)
    torch.testing.assert_close(conv(x), ref)
    torch.testing.assert_close(conv.weight.grad, ref_w.grad)  # g * 1{|W|<=1}, no alpha
    torch.testing.assert_close(x.grad, ref_x.grad)


def released_xnor_step(x, latent, g, padding):
    """One iteration of the released XNOR-Net port for one conv: BinOp.binarization()
    (mean-centre over dim 1, clamp, save, binarize), forward with BinActive, backward,
    BinOp.restore() and updateBinaryGradWeight() (CIFAR_10/util.py).
    Returns the output, the latent weight after the step's constraint, its gradient
    and the input's gradient."""
    w = latent.clone()
    w = w.add(w.mean(1, keepdim=True).mul(-1).expand_as(w))
    w = w.clamp(-1.0, 1.0)
    saved = w.clone()
    n, s = w[0].nelement(), w.size()
    m = w.norm(1, 3, keepdim=True).sum(2, keepdim=True).sum(1, keepdim=True).div(n)
    binary = w.sign().mul(m.expand(s)).requires_grad_()
    x = x.clone().requires_grad_()
    act = x.sign()
    act = x + (act - x).detach()  # BinActive: sign forward ...
    act.register_hook(lambda grad: grad * ((x.detach() < 1) & (x.detach() > -1)))  # ... clipped STE
    out = F.conv2d(act, binary, padding=padding)
    out.backward(g)
    weight = saved
    m = weight.norm(1, 3, keepdim=True).sum(2, keepdim=True).sum(1, keepdim=True).div(n)
    m = m.expand(s).clone()
    m[weight.lt(-1.0)] = 0
    m[weight.gt(1.0)] = 0
    m = m.mul(binary.grad)
    m_add = weight.sign().mul(binary.grad)
    m_add = m_add.sum(3, keepdim=True).sum(2, keepdim=True).sum(1, keepdim=True).div(n).expand(s)
    m_add = m_add.mul(weight.sign())
    grad = m.add(m_add).mul(1.0 - 1.0 / s[1]).mul(n)
    return out.detach(), saved, grad, x.grad


def test_xnor_follows_released_binop_step():
    torch.manual_seed(7)
    conv = XNORConv(4, 3, 3, padding=1, bias=False).train()
    with torch.no_grad():
        conv.weight.normal_(std=0.8)
    latent = conv.weight.detach().clone()
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    g = torch.randn(2, 3, 6, 6)
    out = conv(x)
    out.backward(g)
    ref_out, ref_w, ref_grad, ref_xgrad = released_xnor_step(x.detach(), latent, g, padding=1)
    assert not torch.equal(ref_w, latent)  # the constraint did something
    torch.testing.assert_close(conv.weight.detach(), ref_w)  # kept in place, as released
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(conv.weight.grad, ref_grad)
    torch.testing.assert_close(x.grad, ref_xgrad)
    # evaluation: the released test path's output, parameters untouched
    conv.eval()
    with torch.no_grad():
        conv.weight.copy_(latent)
        torch.testing.assert_close(conv(x), ref_out)
    assert torch.equal(conv.weight, latent)


def test_xnor_conv_called_twice_in_one_forward():
    """An RPN conv runs once per FPN level: the constraint is applied once per update,
    so the second call does not change a weight the first saved for backward."""
    torch.manual_seed(8)
    conv = XNORConv(4, 3, 3, padding=1, bias=False).train()
    with torch.no_grad():
        conv.weight.normal_(std=0.8)
    latent = conv.weight.detach().clone()
    a, b = torch.randn(1, 4, 5, 5), torch.randn(1, 4, 3, 3)
    (conv(a).sum() + conv(b).sum()).backward()
    ga = released_xnor_step(a, latent, torch.ones(1, 3, 5, 5), 1)[2]
    gb = released_xnor_step(b, latent, torch.ones(1, 3, 3, 3), 1)[2]
    torch.testing.assert_close(conv.weight.grad, ga + gb)
    with torch.no_grad():  # an optimizer step: the next forward constrains again
        conv.weight.add_(0.5)
    stepped = conv.weight.detach().clone()
    conv(a)
    torch.testing.assert_close(conv.weight.detach(),
                               (stepped - stepped.mean(1, keepdim=True)).clamp(-1, 1))


def test_real_weight_quantizer_is_step_one_of_the_recipe():
    """Real weights with binary activations: a 32-bit weight (not a 1-bit layer),
    the plain gradient."""
    from rbonn_det.binary import is_binary_layer
    torch.manual_seed(9)
    conv = BinaryConv2d(4, 3, 3, padding=1, weight_quantizer='real')
    assert not is_binary_layer(conv)
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(conv(x), F.conv2d(reference.sign(x), conv.weight, conv.bias,
                                                 padding=1))
    conv(x).sum().backward()
    w = conv.weight.detach().clone().requires_grad_()
    F.conv2d(reference.sign(x), w, conv.bias.detach(), padding=1).sum().backward()
    torch.testing.assert_close(conv.weight.grad, w.grad)


def test_learnable_bias_and_rprelu():
    lb = LearnableBias(3)
    assert lb.bias.shape == (1, 3, 1, 1) and torch.equal(lb.bias, torch.zeros(1, 3, 1, 1))
    with torch.no_grad():
        lb.bias.copy_(torch.tensor([1.0, -2.0, 0.5]).view(1, 3, 1, 1))
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(lb(x), x + lb.bias)
    rp = RPReLU(3)
    with torch.no_grad():
        rp[0].bias.fill_(0.5)
        rp[2].bias.fill_(-0.25)
    y = x + 0.5
    expect = torch.where(y >= 0, y, 0.25 * y) - 0.25  # PReLU init slope 0.25
    torch.testing.assert_close(rp(x), expect)


def test_eval_weight_cache_follows_every_parameter_change():
    conv = RBOConv(4, 6, 3, padding=1).eval()
    x = torch.randn(2, 4, 5, 5)

    def uncached():
        return torch.nn.functional.conv2d(torch.where(x >= 0, 1.0, -1.0), conv.binary_weight(),
                                          conv.bias, padding=1)

    with torch.no_grad():
        first = conv(x)
        assert torch.equal(first, uncached())
        cached = conv._eval_weight
        assert torch.equal(conv(x), first) and conv._eval_weight is cached  # reused
        conv.weight.mul_(-1)  # an optimizer step / load_state_dict: in place
        assert torch.equal(conv(x), uncached()) and not torch.equal(conv(x), first)
        conv.scale.add_(1.0)
        assert torch.equal(conv(x), uncached())
        conv.load_state_dict({k: v.clone() for k, v in RBOConv(4, 6, 3, padding=1).state_dict().items()})
        assert torch.equal(conv(x), uncached())
        # writes through .data bump no version (MMEngine's EMAHook swaps weights so):
        # the val/test loops call eval() afterwards, which drops the cache
        conv.weight.data.mul_(-1)
        conv.eval()
        assert torch.equal(conv(x), uncached())
    # with autograd or in training, the weight is always recomputed (gradients flow)
    y = conv(x)
    y.sum().backward()
    assert conv.weight.grad.abs().sum() > 0 and conv.scale.grad.abs().sum() > 0


@pytest.mark.parametrize('cls', [RBOConv, ReActConv, XNORConv])
def test_traced_1bit_conv_is_its_inference_form(cls):
    """torch.jit.trace (the TorchScript ONNX exporter, mmengine's FLOP counter) records a
    1-bit conv as plain ops: a sign and a conv with the binary weight as a constant, no
    autograd Function; tracing twice in one process works (no cached constant of an
    earlier trace: ``RuntimeError: unordered_map::at``)."""
    torch.manual_seed(0)
    conv = cls(8, 16, 3, padding=1).eval()
    if isinstance(conv, RBOConv):
        conv.prev_grad.normal_()
    x = torch.randn(2, 8, 6, 6)
    x[0, 0, 0, 0] = 0.0  # sign(0) = +1 in the trace too
    with torch.no_grad():
        expected = conv(x)
        for _ in range(2):
            traced = torch.jit.trace(conv, x)
            kinds = {node.kind() for node in traced.inlined_graph.nodes()}
            assert 'prim::PythonOp' not in kinds and 'aten::_convolution' in kinds
            assert torch.equal(traced(x), expected)
            # a constant weight: another input gives the eval forward's output too
            y = torch.randn(1, 8, 5, 7)
            assert torch.equal(traced(y), conv(y))
