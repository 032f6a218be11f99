from .toy_shapes import TOY_CLASSES, make_toy_cls_dataset, make_toy_dataset

__all__ = ["TOY_CLASSES", "make_toy_dataset", "make_toy_cls_dataset"]
