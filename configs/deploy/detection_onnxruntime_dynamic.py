# mmdeploy deploy config: a whole detector (image -> boxes, scores, labels) to ONNX with
# standard operators only, for onnxruntime; any input size and batch (the detector's
# own test pipeline decides the size, as in tools/test.py). Used by
# tools/deploy/mmdeploy_export.py and tools/deploy/mmdeploy_test.py (docs/deploy.md).
# Field meanings are mmdeploy 1.3.1's (its configs/mmdet/detection/*.py set the same).
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    # 16: ONNX RoiAlign with coordinate_transformation_mode (mmcv's aligned=True)
    opset_version=16,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['dets', 'labels'],
    input_shape=None,
    # mmdeploy's graph optimizer needs its TorchScript extension, not in the wheel
    optimize=False,
    dynamic_axes=dict(
        input=dict({0: 'batch', 2: 'height', 3: 'width'}),
        dets=dict({0: 'batch', 1: 'num_dets'}),
        labels=dict({0: 'batch', 1: 'num_dets'})))
# NMS settings the detector's test_cfg does not give (the test_cfg's own score_thr,
# nms iou_threshold and max_per_img take precedence in mmdeploy's rewriters)
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1))
backend_config = dict(type='onnxruntime')
