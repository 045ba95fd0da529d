"""``gan``: a small GAN on scikit-learn's bundled 8×8 digits, with a grid of generated samples
saved as ``samples/epoch_NNN.png`` after every validation epoch (shown on the Run page).

Every setting is declared once, as a typed ``__init__`` argument with its rules, and registered
like a user's own family (``trainers.family.family_of``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pytorch_lightning as pl
import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from trainers.family import family_of
from trainers.metrics import TRAIN_D_LOSS, TRAIN_G_LOSS, VAL_D_LOSS, VAL_G_LOSS, VAL_LOSS

SAMPLES_DIR = "samples"  # artifact folder of the per-epoch sample grids
SIDE = 8  # digits are 8×8


class Digits(pl.LightningDataModule):
    """scikit-learn's 1,797 bundled 8×8 digits, scaled to [-1, 1]; a seeded split holds some out."""

    def __init__(self, batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0):
        super().__init__()
        self.batch_size, self.val_fraction, self.seed = batch_size, val_fraction, seed

    def setup(self, stage=None):
        from sklearn.datasets import load_digits

        x = torch.tensor(load_digits().data, dtype=torch.float32) / 8.0 - 1.0
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        n_val = max(int(len(x) * self.val_fraction), 1)
        self.val_set, self.train_set = TensorDataset(x[order[:n_val]]), TensorDataset(x[order[n_val:]])

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, drop_last=True,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=256)


def _mlp(sizes: list[int], last: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    layers.pop()
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


def grid_png(images: np.ndarray, path: Path, scale: int) -> Path:
    """Images in [-1, 1], shape (n, 8, 8), tiled in a square grid with 1-pixel gaps, as a PNG."""
    from PIL import Image

    n = len(images)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.zeros((rows * (SIDE + 1) + 1, cols * (SIDE + 1) + 1), dtype=np.uint8)
    pixels = ((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)
    for i, img in enumerate(pixels):
        r, c = divmod(i, cols)
        canvas[1 + r * (SIDE + 1): 1 + r * (SIDE + 1) + SIDE, 1 + c * (SIDE + 1): 1 + c * (SIDE + 1) + SIDE] = img
    image = Image.fromarray(canvas, mode="L").resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


class GAN(pl.LightningModule):
    """Digit generator: a GAN (two MLPs) on the 8×8 digits, with a sample grid per epoch."""

    # Steps its two optimisers itself. Declared on the class, not set in __init__, so the registry
    # knows before building that Lightning's gradient clipping and accumulation do not apply.
    automatic_optimization = False

    def __init__(
        self,
        latent_dim: Annotated[int, Field(ge=1, le=4096, description="Size of the generator's noise input.")] = 32,
        hidden: Annotated[int, Field(ge=4, le=16_384, description="Units per hidden layer of both networks.")] = 128,
        layers: Annotated[int, Field(ge=1, le=16, description="Hidden layers of both networks.")] = 2,
        d_lr_ratio: Annotated[float, Field(gt=0, le=100, description="Discriminator learning rate = lr × this.")] = 1.0,
        grid_samples: Annotated[
            int, Field(ge=1, le=1024, description="Generated digits in each epoch's sample grid.")
        ] = 64,
        grid_scale: Annotated[
            int, Field(ge=1, le=32, description="Pixels per digit pixel in the sample grid PNG.")
        ] = 4,
        lr: float = 2e-3,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.generator = _mlp([latent_dim] + [hidden] * layers + [SIDE * SIDE], nn.Tanh())
        self.discriminator = _mlp([SIDE * SIDE] + [hidden] * layers + [1], None)
        self.register_buffer(
            "fixed_noise", torch.randn(grid_samples, latent_dim, generator=torch.Generator().manual_seed(seed))
        )

    def forward(self, z):
        return self.generator(z)

    def _d_loss(self, real):
        fake = self(torch.randn(len(real), self.hparams.latent_dim, device=real.device)).detach()
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))) / 2

    def _g_loss(self, n, device):
        logits = self.discriminator(self(torch.randn(n, self.hparams.latent_dim, device=device)))
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g = self.optimizers()
        # The discriminator's optimizer is a plain torch optimizer, so Lightning counts one step per
        # batch (its step axis, progress and ETA stay batches), not two.
        self._opt_d.zero_grad(set_to_none=True)
        d_loss = self._d_loss(real)
        d_loss.backward()
        self._opt_d.step()
        opt_g.zero_grad()
        g_loss = self._g_loss(len(real), real.device)
        self.manual_backward(g_loss)
        opt_g.step()
        self.log(TRAIN_D_LOSS, d_loss.detach(), on_step=True, on_epoch=False)
        self.log(TRAIN_G_LOSS, g_loss.detach(), on_step=True, on_epoch=False)

    def validation_step(self, batch, batch_idx):
        (real,) = batch
        d_loss = self._d_loss(real)
        self.log(VAL_D_LOSS, d_loss, on_epoch=True)
        self.log(VAL_LOSS, d_loss, on_epoch=True)  # checkpoints and sweeps watch val/loss
        self.log(VAL_G_LOSS, self._g_loss(len(real), real.device), on_epoch=True)

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        with torch.no_grad():
            images = self(self.fixed_noise).float().cpu().numpy().reshape(-1, SIDE, SIDE)
        root = Path(self.trainer.default_root_dir) / SAMPLES_DIR
        path = grid_png(images, root / f"epoch_{self.current_epoch:03d}.png", self.hparams.grid_scale)
        log_artifact = getattr(self.logger, "log_artifact", None)
        if callable(log_artifact):
            log_artifact(path, SAMPLES_DIR)

    def configure_optimizers(self):
        lr = self.hparams.lr
        self._opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=lr * self.hparams.d_lr_ratio, betas=(0.5, 0.999)
        )
        return torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.5, 0.999))


FAMILY = family_of("gan", GAN, Digits)
