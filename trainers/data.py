"""Data modules. Everything ships (scikit-learn's bundled sets) or is generated from a seed."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

# name -> (features, classes); known before loading so models can be built from the config alone
TABULAR = {"digits": (64, 10), "breast_cancer": (30, 2)}


def _skew(x: np.ndarray, y: np.ndarray, keep: float, rng: np.random.Generator):
    """Keep only ``keep`` of every class in the upper half of labels: recall on those matters."""
    if keep >= 1.0:
        return x, y
    classes = np.unique(y)
    minority = classes[len(classes) // 2 :]
    mask = np.ones(len(y), dtype=bool)
    for c in minority:
        idx = np.flatnonzero(y == c)
        drop = rng.permutation(idx)[max(2, int(round(keep * len(idx)))) :]
        mask[drop] = False
    return x[mask], y[mask]


class _ArrayData(pl.LightningDataModule):
    """Shared split/loader logic: subclasses fill ``self.x`` / ``self.y`` in ``_arrays``."""

    def __init__(self, batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0):
        super().__init__()
        self.batch_size, self.val_fraction, self.seed = batch_size, val_fraction, seed
        self.train_set = self.val_set = None

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """Return x, y and whether to stratify the split."""
        raise NotImplementedError

    def _scale(self, x_train: np.ndarray, x_val: np.ndarray):
        return x_train, x_val

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        x, y, stratify = self._arrays()
        xt, xv, yt, yv = train_test_split(
            x, y, test_size=self.val_fraction, random_state=self.seed, stratify=y if stratify else None
        )
        xt, xv = self._scale(xt, xv)
        self.train_set = TensorDataset(torch.as_tensor(xt), torch.as_tensor(yt))
        self.val_set = TensorDataset(torch.as_tensor(xv), torch.as_tensor(yv))

    def train_dataloader(self):
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, generator=gen)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=max(self.batch_size, 256))


class TabularClassData(_ArrayData):
    """Digits (8×8, 10 classes) or breast cancer (30 features, binary), optionally skewed."""

    def __init__(
        self,
        dataset: str = "digits",
        images: bool = False,
        class_balance: float = 1.0,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        seed: int = 0,
    ):
        super().__init__(batch_size, val_fraction, seed)
        self.dataset, self.images, self.class_balance = dataset, images, class_balance
        self.num_features, self.num_classes = TABULAR[dataset]

    def _arrays(self):
        loader = load_digits if self.dataset == "digits" else load_breast_cancer
        x, y = loader(return_X_y=True)
        x, y = _skew(x.astype(np.float32), y.astype(np.int64), self.class_balance, np.random.default_rng(self.seed))
        return x, y, True

    def _scale(self, xt, xv):
        if self.dataset == "digits":  # pixel values are 0..16
            xt, xv = xt / 16.0, xv / 16.0
        else:
            mean, std = xt.mean(0), xt.std(0) + 1e-6
            xt, xv = (xt - mean) / std, (xv - mean) / std
        if self.images:  # (n, 1, 8, 8)
            xt, xv = xt.reshape(-1, 1, 8, 8), xv.reshape(-1, 1, 8, 8)
        return xt.astype(np.float32), xv.astype(np.float32)


def order_sentences(n: int, seq_len: int, vocab_size: int, positive_fraction: float, seed: int):
    """Seeded sentences whose label is word ORDER: every sentence holds both marker words
    (ids 1 and 2) once; label 1 iff marker 1 comes first. A bag of words sees the same counts."""
    rng = np.random.default_rng(seed)
    x = rng.integers(3, vocab_size, size=(n, seq_len))
    y = (rng.random(n) < positive_fraction).astype(np.int64)
    for i in range(n):
        a, b = sorted(rng.choice(seq_len, size=2, replace=False))
        first, second = (1, 2) if y[i] else (2, 1)
        x[i, a], x[i, b] = first, second
    return x.astype(np.int64), y


class OrderTextData(_ArrayData):
    def __init__(
        self,
        n_samples: int = 2000,
        seq_len: int = 12,
        vocab_size: int = 50,
        positive_fraction: float = 0.5,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        seed: int = 0,
    ):
        super().__init__(batch_size, val_fraction, seed)
        self.n_samples, self.seq_len, self.vocab_size = n_samples, seq_len, vocab_size
        self.positive_fraction = positive_fraction

    def _arrays(self):
        x, y = order_sentences(self.n_samples, self.seq_len, self.vocab_size, self.positive_fraction, self.seed)
        return x, y, min(np.bincount(y, minlength=2)) >= 2


class LineData(_ArrayData):
    """y = 2x + 1 + noise, x ~ U(-1, 1)."""

    def __init__(
        self, n_samples: int = 512, noise: float = 0.1, batch_size: int = 32, val_fraction: float = 0.2, seed: int = 0
    ):
        super().__init__(batch_size, val_fraction, seed)
        self.n_samples, self.noise = n_samples, noise

    def _arrays(self):
        rng = np.random.default_rng(self.seed)
        x = rng.uniform(-1, 1, size=(self.n_samples, 1)).astype(np.float32)
        y = (2 * x + 1 + self.noise * rng.standard_normal(x.shape)).astype(np.float32)
        return x, y, False
