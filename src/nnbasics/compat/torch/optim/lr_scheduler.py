"""``torch.optim.lr_scheduler``: nnbasics' schedulers under torch's names."""

from ....optim.lr_scheduler import (
                                    ConstantLR,
                                    CosineAnnealingLR,
                                    CosineAnnealingWarmRestarts,
                                    CyclicLR,
                                    ExponentialLR,
                                    LambdaLR,
                                    LinearLR,
                                    LRScheduler,
                                    MultiplicativeLR,
                                    MultiStepLR,
                                    OneCycleLR,
                                    PolynomialLR,
                                    ReduceLROnPlateau,
                                    SequentialLR,
                                    StepLR,
)
from ...unsupported import module_getattr

_LRScheduler = LRScheduler  # torch's old name, still used in subclasses

__all__ = ["ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR",
           "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR", "PolynomialLR",
           "ReduceLROnPlateau", "SequentialLR", "StepLR"]

__getattr__ = module_getattr(__name__)
