"""Datasets and the DataLoader that batches them."""

from chainrule.data.dataset import Dataset, TensorDataset
from chainrule.data.loader import DataLoader, default_collate

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate"]
