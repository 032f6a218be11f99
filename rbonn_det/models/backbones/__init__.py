from .bi_resnet import BiBasicBlock, BiResNet
from .binary_ssd_vgg import BinaryConvBN, BinarySSDVGG, RealConvBN

__all__ = ['BiResNet', 'BiBasicBlock', 'BinarySSDVGG', 'BinaryConvBN', 'RealConvBN']
