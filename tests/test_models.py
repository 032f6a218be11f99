"""The detector parts: structure per RBONN_SPEC sections 3 and 5, mmdet-compatible outputs."""
import pytest
import torch
from mmdet.models.necks import FPN
from torch import nn

import rbonn_det  # noqa: F401
from rbonn_det.binary import LearnableBias, RBOConv, ReActConv
from rbonn_det.models import BinaryFPN, BinarySSDVGG, BiResNet
from rbonn_det.models.backbones.bi_resnet import BiBasicBlock


@pytest.mark.parametrize('depth, blocks', [(18, (4, 4, 4, 4)), (34, (6, 8, 12, 6))])
def test_biresnet_structure_and_outputs(depth, blocks):
    net = BiResNet(depth=depth).eval()
    assert tuple(len(getattr(net, f'layer{i}')) for i in range(1, 5)) == blocks
    assert sum(isinstance(m, RBOConv) for m in net.modules()) == sum(blocks)
    outs = net(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 24), (1, 128, 8, 12), (1, 256, 4, 6),
                                              (1, 512, 2, 3)]
    assert isinstance(net.conv1, nn.Conv2d) and not isinstance(net.conv1, RBOConv)


def test_block_follows_the_spec_and_released_names():
    block = BiBasicBlock(64, 128, stride=2, conv_cfg=dict(type='RBOConv')).eval()
    names = [n for n, _ in block.named_children()]
    assert names == ['move0', 'binary_conv', 'bn1', 'downsample', 'move1', 'prelu', 'move2']
    assert isinstance(block.downsample[0], nn.AvgPool2d) and block.downsample[1].kernel_size == (1, 1)
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        for m in (block.move0, block.move1, block.move2):
            m.bias.normal_()
        expected = block.bn1(block.binary_conv(x + block.move0.bias)) + block.downsample(x)
        expected = block.prelu(expected + block.move1.bias) + block.move2.bias
        assert torch.equal(block(x), expected)
    same = BiBasicBlock(64, 64, stride=1, conv_cfg=dict(type='RBOConv'))
    assert same.downsample is None


def test_frozen_stages_and_norm_eval():
    net = BiResNet(depth=18, frozen_stages=1, norm_eval=True)
    net.train()
    assert not any(p.requires_grad for p in net.conv1.parameters())
    assert not any(p.requires_grad for p in net.layer1.parameters())
    assert all(p.requires_grad for p in net.layer2.parameters())
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert net.layer2[0].binary_conv.training  # the recurrent step stays live


def test_real_twin_and_baseline_conv_types():
    assert not any(isinstance(m, RBOConv) for m in BiResNet(conv_cfg=dict(type='Conv2d')).modules())
    assert sum(isinstance(m, ReActConv) for m in BiResNet(conv_cfg=dict(type='ReActConv')).modules()) == 16


def test_bad_depth_is_a_clear_error():
    with pytest.raises(ValueError, match=r'depth must be one of \[18, 34\], got 50'):
        BiResNet(depth=50)


@pytest.mark.parametrize('extra', [dict(), dict(add_extra_convs='on_input'),
                                   dict(add_extra_convs='on_output', start_level=1)])
def test_binary_fpn_outputs_match_mmdet_fpn(extra):
    in_ch = [64, 128, 256, 512]
    feats = [torch.randn(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate(in_ch)]
    ref = FPN(in_ch, 32, 5, **extra).eval()
    ours = BinaryFPN(in_ch, 32, 5, **extra).eval()
    assert [o.shape for o in ours(feats)] == [o.shape for o in ref(feats)]
    assert all(m.conv.kernel_size == (3, 3) and isinstance(m.conv, RBOConv) for m in ours.lateral_convs)
    assert all(isinstance(m.activate, nn.PReLU) and m.activate.num_parameters == 32
               for m in list(ours.lateral_convs) + list(ours.fpn_convs))


def test_binary_ssd_vgg_keeps_indices_and_first_conv_real():
    net = BinarySSDVGG(16, out_indices=(3, 4), out_feature_indices=(22, 34))
    net.eval()  # mmcv VGG.train() returns None: no chaining
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 and not isinstance(convs[0], RBOConv)  # the first conv only
    assert sum(isinstance(m, RBOConv) for m in net.modules()) == 14  # 12 VGG + fc6 + fc7
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())
    assert all(isinstance(m.move, LearnableBias) for m in net.features if hasattr(m, 'move'))
    outs = net(torch.randn(1, 3, 300, 300))
    assert [tuple(o.shape) for o in outs] == [(1, 512, 38, 38), (1, 1024, 19, 19)]
