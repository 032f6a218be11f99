from .toy_hard import HARD_CLASSES
from .toy_shapes import TOY_CLASSES, make_toy_cls_dataset, make_toy_dataset, toy_classes

__all__ = ["TOY_CLASSES", "HARD_CLASSES", "make_toy_dataset", "make_toy_cls_dataset", "toy_classes"]
