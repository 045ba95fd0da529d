"""``gpt``: a small decoder-only Transformer language model, byte level, trained on the Python
standard library's own source files (no download; the same files in the same order every time).

Every setting is declared once, as a typed ``__init__`` argument with its rules, and registered
like a user's own family (``trainers.family.family_of``)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Literal

import pytorch_lightning as pl
import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from trainers.family import family_of
from trainers.metrics import TRAIN_LOSS, VAL_LOSS, VAL_PERPLEXITY

VOCAB = 256  # bytes


def stdlib_corpus(chars: int) -> bytes:
    """The first ``chars`` bytes of the standard library's top-level ``*.py`` files, sorted by name."""
    root = Path(os.__file__).resolve().parent
    out, size = [], 0
    for path in sorted(root.glob("*.py")):
        data = path.read_bytes()
        out.append(data)
        size += len(data)
        if size >= chars:
            break
    return b"".join(out)[:chars]


class Blocks(Dataset):
    """Non-overlapping windows of ``block + 1`` tokens: input and next-token target."""

    def __init__(self, tokens: torch.Tensor, block: int):
        self.tokens, self.block = tokens, block

    def __len__(self):
        return max((len(self.tokens) - 1) // self.block, 0)

    def __getitem__(self, i):
        chunk = self.tokens[i * self.block: (i + 1) * self.block + 1]
        return chunk[:-1], chunk[1:]


class StdlibText(pl.LightningDataModule):
    """Byte-level text of the Python standard library; the last ``val_fraction`` is held out."""

    def __init__(
        self,
        corpus_chars: Annotated[
            int, Field(ge=1_000, le=100_000_000, description="Bytes of standard-library source to train on.")
        ] = 120_000,
        block_size: int = 64,  # the rules live on GPT.block_size (the config's one declaration)
        batch_size: int = 32,
        val_fraction: float = 0.1,
        seed: int = 0,
    ):
        super().__init__()
        self.corpus_chars, self.block_size, self.batch_size = corpus_chars, block_size, batch_size
        self.val_fraction, self.seed = val_fraction, seed

    def setup(self, stage=None):
        tokens = torch.frombuffer(bytearray(stdlib_corpus(self.corpus_chars)), dtype=torch.uint8).long()
        cut = int(len(tokens) * (1 - self.val_fraction))
        if cut < self.block_size + 1 or len(tokens) - cut < self.block_size + 1:
            raise ValueError(f"corpus_chars={self.corpus_chars} is too small for block_size={self.block_size}")
        self.train_set, self.val_set = Blocks(tokens[:cut], self.block_size), Blocks(tokens[cut:], self.block_size)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size)


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.qkv, self.proj = nn.Linear(n_embd, 3 * n_embd), nn.Linear(n_embd, n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd), nn.Dropout(dropout)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))
        return x + self.mlp(self.ln2(x))


def _init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: small normal weights, so the first loss is about ln(256)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


class GPT(pl.LightningModule):
    """Language model: decoder-only Transformer on the Python standard library's source (bytes)."""

    def __init__(
        self,
        n_layer: Annotated[int, Field(ge=1, le=96, description="Transformer blocks.")] = 2,
        n_head: Annotated[int, Field(ge=1, le=128, description="Attention heads per block (must divide n_embd).")] = 4,
        n_embd: Annotated[int, Field(ge=8, le=16_384, description="Embedding width.")] = 64,
        block_size: Annotated[
            int, Field(ge=8, le=8192, description="Context length in bytes (tokens per sample).")
        ] = 64,
        dropout: Annotated[float, Field(ge=0, lt=1, description="Dropout in attention output and MLP.")] = 0.0,
        warmup_steps: Annotated[
            int, Field(ge=0, le=1_000_000, description="Linear learning-rate warm-up steps, then cosine decay.")
        ] = 20,
        min_lr_ratio: Annotated[float, Field(ge=0, le=1, description="Cosine decay ends at lr × this.")] = 0.1,
        lr: float = 3e-3,
        optimizer: Literal["adam", "adamw", "sgd"] = "adamw",
        weight_decay: float = 0.01,
    ):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_head={n_head} must divide n_embd={n_embd}")
        self.save_hyperparameters()
        self.tokens_per_sample = int(block_size)  # read by the throughput callback (tokens/s)
        self.tok = nn.Embedding(VOCAB, n_embd)
        self.pos = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(Block(n_embd, n_head, dropout) for _ in range(n_layer)))
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, VOCAB, bias=False)
        self.head.weight = self.tok.weight  # tied
        self.apply(_init_weights)

    def forward(self, idx):
        pos = torch.arange(idx.shape[1], device=idx.device)
        return self.head(self.ln(self.blocks(self.drop(self.tok(idx) + self.pos(pos)))))

    def _loss(self, batch):
        x, y = batch
        return F.cross_entropy(self(x).reshape(-1, VOCAB), y.reshape(-1))

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log(TRAIN_LOSS, loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log(VAL_LOSS, loss, on_epoch=True)
        self.log(VAL_PERPLEXITY, torch.exp(loss), on_epoch=True)  # per batch, averaged; close to exp(val/loss)

    def configure_optimizers(self):
        hp = self.hparams
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=0.9, weight_decay=hp.weight_decay)
        else:
            cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
            opt = cls(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay, betas=(0.9, 0.95))
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: lr_factor(step, hp.warmup_steps, total, hp.min_lr_ratio)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``total``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


FAMILY = family_of("gpt", GPT, StdlibText)
