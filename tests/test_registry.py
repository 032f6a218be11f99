"""rbonn_det.registry registers everything (configs reach it via custom_imports);
``import rbonn_det`` and the pure-PyTorch method package have no side effects."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_conv_layer

import rbonn_det
import rbonn_det.registry  # noqa: F401  (registration)
from rbonn_det.binary import BinaryConv2d, RBOConv


@pytest.mark.parametrize('name', ['RBOConv', 'XNORConv', 'BiRealConv', 'ReActConv', 'BinaryConv'])
def test_binary_convs_build_through_mmcv(name):
    conv = build_conv_layer(dict(type=name), 4, 8, 3, stride=2, padding=1, bias=False)
    assert isinstance(conv, BinaryConv2d) and conv.stride == (2, 2) and conv.bias is None
    module = ConvModule(4, 8, 3, padding=1, conv_cfg=dict(type=name), norm_cfg=dict(type='BN'),
                        act_cfg=dict(type='PReLU'))
    assert type(module.conv).__name__ == name.replace('BinaryConv', 'BinaryConv2d')
    assert module(torch.randn(2, 4, 6, 6)).shape == (2, 8, 6, 6)


def test_rbo_options_pass_through_conv_cfg():
    conv = build_conv_layer(dict(type='RBOConv', lam=0.5, tau=0.3, mask_mode='released',
                                 input_quantizer='real'), 4, 4, 3)
    assert conv.weight_quantizer.lam == 0.5 and conv.tau == 0.3 and conv.mask_mode == 'released'
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(conv.eval()(x), F.conv2d(x, conv.binary_weight(), conv.bias))  # real input


def test_grouped_rbo_conv():
    conv = RBOConv(4, 6, 3, padding=1, groups=2, bias=False).eval()
    x = torch.randn(1, 4, 5, 5)
    sign = lambda t: torch.where(t >= 0, 1.0, -1.0)
    expected = F.conv2d(sign(x), conv.scale.abs() * 0.02 * sign(conv.weight), padding=1, groups=2)
    assert torch.equal(conv(x), expected)


def test_config_custom_imports_register_everything_in_a_fresh_process():
    code = (
        'from mmengine.config import Config\n'
        'from mmdet.utils import register_all_modules\n'
        'from mmdet.registry import MODELS\n'
        'from mmengine.registry import OPTIM_WRAPPERS, HOOKS, OPTIM_WRAPPER_CONSTRUCTORS\n'
        'register_all_modules()\n'
        "cfg = Config.fromfile('configs/toy/rbonn_faster_rcnn_toy.py')\n"
        'import sys; assert "rbonn_det.registry" in sys.modules, "custom_imports did not import it"\n'
        'MODELS.build(cfg.model)\n'
        "for reg, name in ((OPTIM_WRAPPERS, 'RBOOptimWrapper'), (OPTIM_WRAPPERS, 'RBOAmpOptimWrapper'),\n"
        "                  (HOOKS, 'RBOStatsHook'), (OPTIM_WRAPPER_CONSTRUCTORS, 'RBOOptimWrapperConstructor'),\n"
        "                  (MODELS, 'BiResNet'), (MODELS, 'BinaryFPN'), (MODELS, 'BinaryRPNHead'),\n"
        "                  (MODELS, 'RBOConv'), (MODELS, 'LearnableBias'), (MODELS, 'RPReLU')):\n"
        "    assert reg.get(name) is not None, name\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().endswith('ok'), proc.stderr[-2000:]


def test_method_package_needs_only_torch():
    """`import rbonn_det.binary` (and `import rbonn_det`) with mmdet, mmengine and mmcv
    made unimportable: works, registers nothing, patches nothing."""
    code = (
        'import sys\n'
        'class Block:\n'
        '    def find_spec(self, name, path=None, target=None):\n'
        "        if name.split('.')[0] in ('mmdet', 'mmengine', 'mmcv'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        'sys.meta_path.insert(0, Block())\n'
        'import torch, rbonn_det, rbonn_det.binary\n'
        'from rbonn_det.binary import RBOConv, binary_layers, rbo_layers\n'
        'model = torch.nn.Sequential(RBOConv(3, 4, 3), torch.nn.Conv2d(4, 4, 1))\n'
        "assert list(binary_layers(model)) == ['0'] and list(rbo_layers(model)) == ['0']\n"
        'model(torch.randn(1, 3, 5, 5)).sum().backward()\n'
        "assert not [m for m in sys.modules if m.split('.')[0] in ('mmdet', 'mmengine', 'mmcv')]\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr[-2000:]


def test_version():
    assert rbonn_det.__version__.count('.') == 2


def test_amp_wrapper_composes_the_handoff_with_mmengine_amp():
    from mmengine.optim import AmpOptimWrapper

    from rbonn_det.engine import RBOAmpOptimWrapper, RBOGradientHandoff
    mro = RBOAmpOptimWrapper.__mro__
    assert mro.index(RBOGradientHandoff) < mro.index(AmpOptimWrapper)
    assert RBOAmpOptimWrapper.step is RBOGradientHandoff.step


def amp_step_stores_unscaled_gradient(device, scaler=None):
    """One AMP step of an RBO conv with a static loss scale of 1024: the stored previous
    gradient is the one the optimizer stepped with, unscaled (as large as the fp32
    gradient of the same loss, not 1024x)."""
    from rbonn_det.engine import RBOAmpOptimWrapper
    torch.manual_seed(0)
    conv = RBOConv(3, 4, 3, padding=1).to(device)
    wrapper = RBOAmpOptimWrapper(optimizer=torch.optim.SGD(conv.parameters(), lr=0.0),
                                 loss_scale=1024.0)
    if scaler is not None:
        wrapper.loss_scaler = scaler
    x = torch.randn(2, 3, 6, 6, device=device)
    with wrapper.optim_context(conv):
        loss = conv(x).float().pow(2).mean()
    seen = {}
    orig = wrapper.optimizer.zero_grad

    def spy(*args, **kwargs):
        seen['grad'] = conv.weight.grad.clone()
        return orig(*args, **kwargs)

    wrapper.optimizer.zero_grad = spy
    wrapper.update_params(loss)
    assert torch.equal(conv.prev_grad, seen['grad'])
    stored = conv.prev_grad.clone()
    conv.reset_recurrent_state()  # same forward as the AMP step had
    conv.zero_grad()
    conv(x).pow(2).mean().backward()
    ratio = (stored.norm() / conv.weight.grad.norm()).item()
    assert 0.9 < ratio < 1.1, ratio


@pytest.mark.skipif(not torch.cuda.is_available(), reason='AmpOptimWrapper needs CUDA')
def test_amp_wrapper_stores_unscaled_gradient_on_gpu():
    amp_step_stores_unscaled_gradient('cuda')


def test_amp_wrapper_stores_unscaled_gradient_cpu_twin(monkeypatch):
    """The GPU test's check on the CPU (CI has no GPU): MMEngine's AmpOptimWrapper refuses
    a machine without CUDA at construction, so that check is bypassed, its scaler is
    torch's CPU GradScaler and its autocast MMEngine's CPU one (bfloat16). Shows the
    hand-off takes the gradient after unscaling, not the CUDA kernels."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    amp_step_stores_unscaled_gradient('cpu', torch.amp.GradScaler('cpu', init_scale=1024.0))
