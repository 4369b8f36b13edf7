"""``torch.optim.lr_scheduler``: nnbasics' schedulers under torch's names."""

from ....optim.lr_scheduler import (
                                    CosineAnnealingLR,
                                    ExponentialLR,
                                    LambdaLR,
                                    LinearLR,
                                    LRScheduler,
                                    MultiStepLR,
                                    ReduceLROnPlateau,
                                    SequentialLR,
                                    StepLR,
)
from ...unsupported import module_getattr

_LRScheduler = LRScheduler  # torch's old name, still used in subclasses

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR",
           "ReduceLROnPlateau", "SequentialLR", "StepLR"]

__getattr__ = module_getattr(__name__)
