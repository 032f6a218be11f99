"""RPN head whose shared 3x3 conv is 1-bit and followed by PReLU; the 1x1
objectness / box convs stay real (docs/detectors.md).

Initialisation as mmdet's RPNHead: Normal(0, 0.01) on every conv, the 1-bit one
included (RPNHead's init_cfg names ``layer='Conv2d'``, which MMEngine matches
against a module's class and direct bases only; see BinaryFPN), and not mmcv
ConvModule's Kaiming."""
from mmcv.cnn import ConvModule
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS


@MODELS.register_module()
class BinaryRPNHead(RPNHead):
    """:class:`mmdet.models.dense_heads.RPNHead` with ``rpn_conv`` =
    binary 3x3 conv (``conv_cfg``, default RBOConv) + PReLU instead of conv + ReLU."""

    def __init__(self, *args, conv_cfg=dict(type='RBOConv'),
                 init_cfg=dict(type='Normal', layer=['Conv2d', 'BinaryConv2d'], std=0.01),
                 **kwargs):
        self.binary_conv_cfg = conv_cfg
        super().__init__(*args, init_cfg=init_cfg, **kwargs)

    def _init_layers(self):
        super()._init_layers()
        self.rpn_conv = ConvModule(self.in_channels, self.feat_channels, 3, padding=1,
                                   conv_cfg=self.binary_conv_cfg,
                                   act_cfg=dict(type='PReLU', num_parameters=self.feat_channels))
        # MMEngine calls a child's own init_weights after the head's init_cfg, and
        # ConvModule's would re-draw the conv with Kaiming; is_init makes it skip that
        self.rpn_conv.is_init = True

    def forward_single(self, x):
        x = self.rpn_conv(x)  # PReLU included (mmdet's RPNHead applies ReLU here)
        return self.rpn_cls(x), self.rpn_reg(x)
