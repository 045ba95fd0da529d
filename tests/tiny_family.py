"""A user's own LightningModule/DataModule pair, registered in one line (see README).

Also used by the failure tests: ``fail_at_step`` raises inside ``training_step`` and
``step_sleep`` slows steps down so a test can signal a run mid-training.
"""

import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from trainers.registry import register


class TinyModule(pl.LightningModule):
    """Tiny regression module that can fail on purpose."""

    def __init__(self, lr: float = 0.05, fail_at_step: int = -1, step_sleep: float = 0.0):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        if self.global_step == self.hparams.fail_at_step:
            raise RuntimeError(f"deliberate failure at step {self.global_step}")
        if self.hparams.step_sleep:
            time.sleep(self.hparams.step_sleep)
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class TinyData(pl.LightningDataModule):
    def __init__(self, n_samples: int = 256, batch_size: int = 8, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n_samples, 4, generator=g)
        self.data = TensorDataset(x, x.sum(1, keepdim=True))
        self.batch_size = batch_size

    def train_dataloader(self):
        return DataLoader(self.data, batch_size=self.batch_size)

    def val_dataloader(self):
        return DataLoader(self.data, batch_size=64)


register("tiny", TinyModule, TinyData)
