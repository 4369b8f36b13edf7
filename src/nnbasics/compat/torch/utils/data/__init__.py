"""``torch.utils.data``: datasets, samplers and the DataLoader (see the submodules)."""

from ....unsupported import module_getattr
from . import dataloader, dataset, sampler
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .dataset import ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler",
           "Sampler", "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "dataloader", "dataset", "default_collate", "default_convert",
           "get_worker_info", "random_split", "sampler"]

__getattr__ = module_getattr(__name__)
