"""Plain ``nn.Module`` networks: no loss, no metrics, no optimizer (those live in systems)."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden: int, layers: int, out_features: int, dropout: float):
        super().__init__()
        blocks, width = [], in_features
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        blocks.append(nn.Linear(width, out_features))
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, features) -> (batch, out)
        return self.body(x)


class SmallCNN(nn.Module):
    """Two 3×3 conv blocks for 1×8×8 digits (the seed's MNIST net, scaled down)."""

    def __init__(self, channels: int, out_features: int, dropout: float):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # (batch, 2c, 4, 4)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * channels * 16, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, 1, 8, 8) -> (batch, out)
        return self.head(self.features(x))


class LSTMClassifier(nn.Module):
    """Embedding → LSTM → one logit (a sigmoid in the loss gives the probability)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (batch, seq) -> (batch,)
        _, (h, _) = self.lstm(self.embed(tokens))
        return self.out(h[-1]).squeeze(-1)


class VAE(nn.Module):
    def __init__(self, in_features: int, hidden: int, latent_dim: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, in_features))

    def forward(self, x: torch.Tensor):
        """Returns reconstruction logits (batch, features), mu and logvar (batch, latent)."""
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar
