"""Pretraining the 1-bit backbone by classification (ImageNet-style folders)."""
from .classifier import BinaryImageClassifier
from .data import ClsAccuracy, ImageFolderClsDataset, PackClsInputs

__all__ = ['BinaryImageClassifier', 'ImageFolderClsDataset', 'PackClsInputs', 'ClsAccuracy']
