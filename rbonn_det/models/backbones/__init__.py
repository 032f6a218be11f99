from .bi_resnet import BiBasicBlock, BiResNet

__all__ = ['BiResNet', 'BiBasicBlock']
