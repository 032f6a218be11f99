"""mmdet's SSDHead with the attribute mmdet 3.3.0's prediction path needs.

``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls`` (for v3det's
custom-channel losses), but ``SSDHead.__init__`` skips ``AnchorHead.__init__``,
where that attribute is made: every SSD prediction (validation, tools/test.py)
fails with ``AttributeError: 'SSDHead' object has no attribute 'loss_cls'``.
Upstream: open-mmlab/mmdetection issues 11063, 11305, 11780; fix proposed in
PR 11524, not in a release. Stock mmdet's SSD300 fails the same way.
"""
from mmdet.models.dense_heads import SSDHead
from mmdet.registry import MODELS


@MODELS.register_module()
class PatchedSSDHead(SSDHead):
    """:class:`mmdet.models.dense_heads.SSDHead` that can predict in mmdet 3.3.0.

    SSD computes its classification loss inline (softmax cross-entropy with hard
    negative mining), so there is no loss module to describe: ``loss_cls`` is
    None, which the prediction path reads as "no custom class channels" and
    then takes SSD's softmax scores, as intended. Same arguments, parameters
    and outputs as SSDHead.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_cls = None
