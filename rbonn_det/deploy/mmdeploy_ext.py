"""1-bit detectors through mmdeploy 1.3.1: our rewriters and the torch shims it needs.

Importing this module registers, through mmdeploy's own extension points:

* a module rewriter for every 1-bit conv (:class:`~rbonn_det.binary.BinaryConv2d` and
  its subclasses, :class:`~rbonn_det.deploy.PackedBinaryConv2d`): during export each is
  replaced by :class:`~rbonn_det.deploy.onnx_export.SignConvScale`, which ONNX records
  as ``Sign(Sign(x) + 0.5) -> Conv(weights +-1) -> Mul(per-channel scale) [-> Add(bias)]``
  (sign(0) = +1; no sign for a weights-only 1-bit conv). Trained and packed checkpoints
  give the same graph.
* a function rewriter for our RPN head's ``predict_by_feat``: mmdeploy's rewriter of
  mmdet's RPNHead runs one NMS over the proposals of all FPN levels together and drops
  proposals scoring below the deploy config's ``score_threshold``, where mmdet runs
  NMS per level (``batched_nms`` with the level as the class), thresholds nothing and
  drops boxes not wider and taller than ``min_bbox_size``. Ours keeps mmdet's rule
  (measured on the toy detector: 0.420 against 0.429 bbox mAP with the one NMS).
* a function rewriter for our SSD head's ``predict_by_feat``: mmdeploy's rewriter of
  mmdet's dense heads drops the background column of a softmax head twice when it
  picks the ``nms_pre`` best anchors per level, so the last foreground class never
  makes an anchor a candidate, and it ranks anchors where mmdet ranks (anchor, class)
  pairs above ``score_thr``. Ours keeps mmdet's rule (stock mmdet SSD exported by
  mmdeploy 1.3.1 has the same loss; ours is registered for our head only).
* a function rewriter for ``torch.onnx.export``: the TorchScript exporter
  (``dynamo=False``). torch 2.9+ defaults to the dynamo exporter, which needs
  onnxscript and runs none of mmdeploy's symbolic rewriters; mmdeploy 1.3.1 calls
  ``torch.onnx.export`` without the argument.

:func:`torch_shims` supplies what mmdeploy 1.3.1 imports from torch and torch no longer
has (``torch.onnx.symbolic_opset9._cast_Long``, imported by mmdeploy's RoIAlign
symbolic, ``mmdeploy/mmcv/ops/roi_align.py``; gone from torch 2.x's opset-9 module),
for the duration of an export only. Nothing in site-packages is edited.

mmdeploy is optional (``pip install -e .[mmdeploy]``, docs/deploy.md).
"""
import contextlib
import copy
import os
from typing import Dict, Optional

import torch
from torch import nn
from mmdeploy.core import FUNCTION_REWRITER, MODULE_REWRITER

from ..utils.torch_compat import onnx_export_kwargs
from .onnx_export import SignConvScale

MMDEPLOY_VERSION = '1.3.1'  # the version these rewriters and shims are written for


@MODULE_REWRITER.register_rewrite_module('rbonn_det.binary.conv.BinaryConv2d',
                                         backend='default')
@MODULE_REWRITER.register_rewrite_module('rbonn_det.deploy.packed_conv.PackedBinaryConv2d',
                                         backend='default')
class ExportedBinaryConv(SignConvScale):
    """What mmdeploy puts in place of a 1-bit conv while it exports (mmdeploy's
    module-rewriter signature: the module, then the deploy config)."""

    def __init__(self, module, deploy_cfg=None, **kwargs):
        super().__init__(module)


@FUNCTION_REWRITER.register_rewriter('torch.onnx.export', backend='default')
def torch_onnx_export__torchscript(*args, **kwargs):
    """``torch.onnx.export`` with the TorchScript exporter, whose symbolic functions
    mmdeploy rewrites."""
    ctx = FUNCTION_REWRITER.get_context()
    kwargs.update(onnx_export_kwargs(ctx.origin_func))
    return ctx.origin_func(*args, **kwargs)


def _proposals_by_level(head, cls_scores, bbox_preds, img_shape, nms_pre: int):
    """mmdet's RPN decoding in traceable ops: per FPN level the ``nms_pre`` best anchors
    by objectness, decoded and clipped to the image.

    Returns:
        tuple: boxes (B, N, 4), scores (B, N), the level of each (N, ), N the sum over
        levels of min(nms_pre, anchors of the level).
    """
    batch = cls_scores[0].shape[0]
    anchors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores],
                                               device=cls_scores[0].device)
    boxes, scores, levels = [], [], []
    for level, (cls, reg, anchor) in enumerate(zip(cls_scores, bbox_preds, anchors)):
        cls = cls.permute(0, 2, 3, 1).reshape(batch, -1)
        if head.use_sigmoid_cls:
            score = cls.sigmoid()
        else:  # two logits per anchor, foreground first (mmdet's convention)
            score = cls.reshape(batch, -1, 2).softmax(-1)[..., 0]
        delta = reg.permute(0, 2, 3, 1).reshape(batch, -1, head.bbox_coder.encode_size)
        anchor = anchor.unsqueeze(0).expand(batch, -1, -1)
        if nms_pre > 0:  # mmdeploy's topk rewriter takes k = min(nms_pre, anchors)
            score, index = score.topk(nms_pre)
            delta = delta.gather(1, index.unsqueeze(-1).expand(-1, -1, delta.shape[-1]))
            anchor = anchor.gather(1, index.unsqueeze(-1).expand(-1, -1, 4))
        boxes.append(head.bbox_coder.decode(anchor, delta, max_shape=img_shape))
        scores.append(score)
        levels.append(torch.full_like(score[0], level, dtype=torch.long))
    return torch.cat(boxes, 1), torch.cat(scores, 1), torch.cat(levels)


def _group_columns(scores, group, groups: int):
    """(B, N, groups) scores: each candidate's score in its group's column, -1 (below any
    threshold >= 0, so never kept) in the others."""
    own = nn.functional.one_hot(group, groups).to(scores.dtype)
    return scores.unsqueeze(-1) * own + (own - 1)


def _nms_per_group(boxes, scores, group, groups: int, cfg, score_thr: float):
    """mmdet's ``batched_nms`` (NMS within each group: FPN level, class) as mmdeploy's
    multi-class NMS over :func:`_group_columns`; the best ``cfg.max_per_img`` kept.

    Returns:
        tuple: ``dets`` (B, K, 5: box, score) and the group of each.
    """
    from mmdeploy.mmcv.ops import multiclass_nms
    keep = cfg.max_per_img
    return multiclass_nms(boxes, _group_columns(scores, group, groups),
                          max_output_boxes_per_class=keep,
                          iou_threshold=cfg.nms.iou_threshold, score_threshold=score_thr,
                          pre_top_k=-1, keep_top_k=keep, nms_type=cfg.nms.get('type', 'nms'))


@FUNCTION_REWRITER.register_rewriter(
    'rbonn_det.models.dense_heads.binary_rpn_head.BinaryRPNHead.predict_by_feat',
    backend='default')
def binary_rpn_head__predict_by_feat(self, cls_scores, bbox_preds, score_factors=None,
                                     batch_img_metas=None, cfg=None, rescale=False,
                                     with_nms=True, **kwargs):
    """Proposals as mmdet's ``RPNHead`` makes them: the ``nms_pre`` best per level,
    boxes not larger than ``min_bbox_size`` dropped, NMS per level, no score threshold,
    the best ``max_per_img`` kept.

    Returns:
        tuple: ``dets`` (B, max_per_img, 5: box, score) and the level of each box.
    """
    cfg = self.test_cfg if cfg is None else cfg
    boxes, scores, level = _proposals_by_level(
        self, cls_scores, bbox_preds, batch_img_metas[0]['img_shape'], cfg.get('nms_pre', -1))
    if not with_nms:
        return boxes, scores.unsqueeze(-1)
    if cfg.get('min_bbox_size', -1) >= 0:
        size = cfg.min_bbox_size
        valid = ((boxes[..., 2] - boxes[..., 0]) > size) & ((boxes[..., 3] - boxes[..., 1]) > size)
        scores = torch.where(valid, scores, scores.new_tensor(-1.0))
    # NMS per level, no score threshold (scores are > 0; dropped boxes are -1)
    return _nms_per_group(boxes, scores, level, len(cls_scores), cfg, score_thr=0.0)


@FUNCTION_REWRITER.register_rewriter(
    'rbonn_det.models.dense_heads.patched_ssd_head.PatchedSSDHead.predict_by_feat',
    backend='default')
def patched_ssd_head__predict_by_feat(self, cls_scores, bbox_preds, score_factors=None,
                                      batch_img_metas=None, cfg=None, rescale=False,
                                      with_nms=True, **kwargs):
    """Detections as mmdet's dense heads make them (``_predict_by_feat_single``): per
    level the ``nms_pre`` best (anchor, class) pairs scoring above ``score_thr``,
    decoded; NMS per class over all levels; the best ``max_per_img`` kept.

    Returns:
        tuple: ``dets`` (B, max_per_img, 5: box, score) and ``labels``.
    """
    cfg = self.test_cfg if cfg is None else cfg
    batch, classes = cls_scores[0].shape[0], self.num_classes
    score_thr, nms_pre = cfg.get('score_thr', 0.0), cfg.get('nms_pre', -1)
    priors = self.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores],
                                              device=cls_scores[0].device)
    boxes, scores, labels = [], [], []
    for cls, reg, prior in zip(cls_scores, bbox_preds, priors):
        score = cls.permute(0, 2, 3, 1).reshape(batch, -1, self.cls_out_channels)
        # softmax heads: background is the last channel (mmdet 3.x)
        score = score.sigmoid() if self.use_sigmoid_cls else score.softmax(-1)[..., :classes]
        delta = reg.permute(0, 2, 3, 1).reshape(batch, -1, self.bbox_coder.encode_size)
        pair = score.reshape(batch, -1)  # (anchor, class) pairs, class fastest
        pair = torch.where(pair > score_thr, pair, pair.new_tensor(-1.0))
        if nms_pre > 0:  # mmdeploy's topk rewriter takes k = min(nms_pre, pairs)
            pair, index = pair.topk(nms_pre)
        else:
            index = torch.arange(pair.shape[1], device=pair.device).expand(batch, -1)
        anchor = torch.div(index, classes, rounding_mode='floor')
        delta = delta.gather(1, anchor.unsqueeze(-1).expand(-1, -1, delta.shape[-1]))
        boxes.append(self.bbox_coder.decode(prior[anchor], delta,
                                            max_shape=batch_img_metas[0]['img_shape']))
        scores.append(pair)
        labels.append(index - anchor * classes)
    boxes, scores, labels = torch.cat(boxes, 1), torch.cat(scores, 1), torch.cat(labels, 1)
    if not with_nms:
        return boxes, _group_columns(scores, labels, classes)
    return _nms_per_group(boxes, scores, labels, classes, cfg, score_thr)


def _cast_long(g, input, non_blocking):
    """torch 1.x's ``symbolic_opset9._cast_Long``: an ONNX Cast to int64."""
    return g.op('Cast', input, to_i=torch.onnx.TensorProtoDataType.INT64)


@contextlib.contextmanager
def torch_shims():
    """Supply the torch names mmdeploy 1.3.1 imports and torch no longer has, while the
    block runs (a torch that still has them keeps its own)."""
    from torch.onnx import symbolic_opset9
    added = []
    if not hasattr(symbolic_opset9, '_cast_Long'):
        symbolic_opset9._cast_Long = _cast_long
        added.append('_cast_Long')
    try:
        yield
    finally:
        for name in added:
            delattr(symbolic_opset9, name)


def task_processor(deploy_cfg, model_cfg, device: str = 'cpu'):
    """mmdeploy's task processor of a deploy config and a model config."""
    from mmdeploy.apis import build_task_processor
    return build_task_processor(model_cfg, deploy_cfg, device)


def onnx_op_counts(path: str) -> Dict[str, int]:
    """ONNX operator -> count of a model file; operators of a domain other than the
    standard one are counted as ``domain::op``."""
    import onnx
    counts = {}
    for node in onnx.load(path).graph.node:
        name = node.op_type if node.domain in ('', 'ai.onnx') else f'{node.domain}::{node.op_type}'
        counts[name] = counts.get(name, 0) + 1
    return counts


def export_end2end(deploy_cfg, model_cfg, model: nn.Module, img, work_dir: str) -> Dict:
    """Export a whole detector (image -> ``dets``, ``labels``) as mmdeploy's
    ``torch2onnx`` does, for a model built here (packed or trained: mmdeploy's own
    builder loads neither a packed file nor a checkpoint saved by another config).

    Args:
        deploy_cfg, model_cfg (Config): loaded by ``mmdeploy.utils.load_config``.
        model: the detector (left as it is: mmdeploy replaces modules in place, so a
            copy is exported).
        img: the image (path or array) the export runs on.
        work_dir: where ``<onnx_config.save_file>`` is written.

    Returns:
        dict: ``onnx`` (the file), ``ops`` (:func:`onnx_op_counts`),
        ``sign_conv_pairs`` (Convs reading a Sign: binary convs with binary input,
        once per application).
    """
    import onnx
    from mmdeploy.utils import get_onnx_config
    from .onnx_export import sign_conv_pairs

    os.makedirs(work_dir, exist_ok=True)
    onnx_cfg = get_onnx_config(deploy_cfg)
    data, inputs = task_processor(deploy_cfg, model_cfg).create_input(
        img, onnx_cfg.get('input_shape'), data_preprocessor=model.data_preprocessor)
    prefix = os.path.join(work_dir, os.path.splitext(onnx_cfg['save_file'])[0])
    export_module(model, inputs, prefix, deploy_cfg,
                  input_metas={'data_samples': data['data_samples'], 'mode': 'predict'})
    path = prefix + '.onnx'
    return dict(onnx=path, ops=onnx_op_counts(path),
                sign_conv_pairs=len(sign_conv_pairs(onnx.load(path).graph)))


def export_module(module: nn.Module, inputs, path_prefix: str, deploy_cfg,
                  input_metas: Optional[dict] = None, output_names=None) -> str:
    """``mmdeploy.apis.onnx.export`` of any module (a copy: mmdeploy replaces modules
    in place) with the deploy config's ONNX settings, our rewriters and shims.

    Returns:
        str: the written ``<path_prefix>.onnx``.
    """
    from mmdeploy.apis.onnx import export
    from mmdeploy.codebase import import_codebase
    from mmdeploy.utils import get_codebase, get_dynamic_axes, get_onnx_config
    import_codebase(get_codebase(deploy_cfg))  # registers mmdeploy's mmdet rewriters
    onnx_cfg = get_onnx_config(deploy_cfg)
    with torch_shims():
        export(copy.deepcopy(module).eval(), inputs, output_path_prefix=path_prefix,
               backend=deploy_cfg.backend_config.type, input_metas=input_metas,
               context_info=dict(deploy_cfg=deploy_cfg),
               input_names=onnx_cfg['input_names'],
               output_names=output_names or onnx_cfg['output_names'],
               opset_version=onnx_cfg.get('opset_version', 11),
               dynamic_axes=get_dynamic_axes(deploy_cfg),
               keep_initializers_as_inputs=onnx_cfg.get('keep_initializers_as_inputs', False),
               optimize=onnx_cfg.get('optimize', False))
    return path_prefix + '.onnx'


def build_backend_detector(deploy_cfg, model_cfg, model_file: str,
                           graph_optimizations: bool = True,
                           threads: Optional[int] = None) -> nn.Module:
    """The exported detector in its backend, as an mmdet model: ``test_step`` takes
    mmdet's data and returns ``DetDataSample`` s.

    Args:
        graph_optimizations: onnxruntime's graph rewrites (on by default, as mmdeploy
            runs it). They fold BN into convs, which rounds the real ops differently;
            a 1-bit network turns a rounding difference at a sign input into a flipped
            bit, so exact comparisons with PyTorch turn them off.
        threads: onnxruntime's intra-op threads (default: its own, all cores).
    """
    model = task_processor(deploy_cfg, model_cfg).build_backend_model([model_file])
    if not graph_optimizations or threads:
        import onnxruntime
        wrapper = model.wrapper
        if not hasattr(wrapper, 'sess'):
            raise ValueError(f'{type(wrapper).__name__}: session options apply to '
                             'onnxruntime only')
        options = onnxruntime.SessionOptions()
        if not graph_optimizations:
            options.graph_optimization_level = \
                onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        # the session mmdeploy's ORTWrapper made, again with these options (no custom
        # operator library: the graph has standard operators only)
        wrapper.sess = onnxruntime.InferenceSession(
            model_file, options, providers=wrapper.sess.get_providers())
        wrapper.io_binding = wrapper.sess.io_binding()
    return model


def compare_detections(model: nn.Module, backend_model: nn.Module, data: dict,
                       min_score: float = 0.3, min_iou: float = 0.9) -> Dict:
    """Run both models' ``test_step`` on one batch and match their detections.

    A detection of ``model`` scoring at least ``min_score`` is matched when the backend
    has one of the same label overlapping it by IoU >= ``min_iou``.

    Returns:
        dict: ``torch`` / ``backend`` (detection counts), ``confident`` (detections of
        ``model`` scoring >= min_score), ``matched`` (of those), ``max_score_diff``
        (over the matched pairs).
    """
    from mmdet.structures.bbox import bbox_overlaps
    with torch.no_grad():
        ours = model.test_step(data)
        theirs = backend_model.test_step(data)
    report = dict(torch=0, backend=0, confident=0, matched=0, max_score_diff=0.0)
    for a, b in zip(ours, theirs):
        a, b = a.pred_instances.cpu(), b.pred_instances.cpu()
        report['torch'] += len(a)
        report['backend'] += len(b)
        a = a[a.scores >= min_score]
        report['confident'] += len(a)
        if not len(a) or not len(b):
            continue
        iou = bbox_overlaps(a.bboxes, b.bboxes)
        iou[a.labels[:, None] != b.labels[None, :]] = 0
        best, index = iou.max(dim=1)
        hit = best >= min_iou
        report['matched'] += int(hit.sum())
        if hit.any():
            diff = (a.scores[hit] - b.scores[index[hit]]).abs().max().item()
            report['max_score_diff'] = max(report['max_score_diff'], diff)
    return report
