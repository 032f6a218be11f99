"""VOCStyleDataset: the Pascal VOC layout with your own classes and XML from any
annotation tool (mmdet's VOCDataset, two workarounds).

1. Annotation quirks (empty ``<difficult/>``, no ``<size>``, boxes beyond the image) are
   repaired by :func:`rbonn_det.datasets.voc_xml.read_voc_xml` before mmdet's own
   ``_parse_instance_info`` reads the file; the repairs are logged in one line per data
   set. mmdet's XMLDataset crashes or mis-loads on them (see voc_xml.py).
2. Results tables show the data set's own class names. mmdet 3.3.0's VOCDataset sets
   ``dataset_type='VOC2007'`` whenever the folder name contains ``VOC2007``
   (mmdet/datasets/voc.py, ``__init__``), and VOCMetric then prints ``get_classes('voc')``
   -- the 20 VOC names -- for any classes (mmdet/evaluation/metrics/voc_metric.py,
   ``compute_metrics``). Here the type is kept only when the classes are VOC's.
"""
import os.path as osp
from typing import List, Union

from mmdet.datasets import VOCDataset
from mmdet.registry import DATASETS
from mmengine.fileio import get, get_local_path
from mmengine.logging import print_log

from .voc_xml import RepairLog, image_size, read_voc_xml


@DATASETS.register_module()
class VOCStyleDataset(VOCDataset):
    """mmdet's VOCDataset (same arguments, same annotations for well-formed files)
    that reads the XML of common annotation tools and names your classes in results."""

    def __init__(self, **kwargs):
        self._repairs = RepairLog()
        super().__init__(**kwargs)
        if tuple(self._metainfo['classes']) != tuple(VOCDataset.METAINFO['classes']):
            self._metainfo['dataset_type'] = None  # VOCMetric: print these classes' names

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if self._repairs:
            print_log(f'{type(self).__name__} {self.ann_file}: annotations repaired on '
                      f'loading: {self._repairs.summary()}', logger='current')
        return data_list

    def _image_size(self, img_path: str):
        if self.backend_args is None:
            return image_size(img_path)
        import mmcv
        img = mmcv.imfrombytes(get(img_path, backend_args=self.backend_args), backend='cv2')
        return img.shape[1], img.shape[0]

    def parse_data_info(self, img_info: dict) -> Union[dict, List[dict]]:
        """mmdet's XMLDataset.parse_data_info, reading the repaired XML."""
        img_path = osp.join(self.sub_data_root, img_info['file_name'])
        with get_local_path(img_info['xml_path'], backend_args=self.backend_args) as local:
            ann = read_voc_xml(local, img_path, size_of=self._image_size)
        self._repairs.add(img_info['xml_path'], ann.repairs)
        return dict(img_path=img_path, img_id=img_info['img_id'],
                    xml_path=img_info['xml_path'], height=ann.height, width=ann.width,
                    instances=self._parse_instance_info(ann.root, minus_one=True))
