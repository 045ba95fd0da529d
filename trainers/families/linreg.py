"""``linreg``: y = 2x + 1 + noise, one linear layer trained with SGD on MSE."""

from typing import Literal

from pydantic import Field
from torch import nn

from trainers.config import SystemConfig
from trainers.data import LineData
from trainers.family import Family
from trainers.systems import RegressionSystem


class Config(SystemConfig):
    lr: float = Field(0.05, gt=0, le=10, description="Learning rate.")
    optimizer: Literal["adam", "adamw", "sgd"] = Field("sgd", description="Optimizer.")
    batch_size: int = Field(32, ge=1, le=65_536, description="Examples per training step.")
    n_samples: int = Field(512, ge=10, le=10_000_000, description="Points to generate.")
    noise: float = Field(0.1, ge=0, le=100, description="Standard deviation of the noise on y.")


class LinearRegression(RegressionSystem):
    def __init__(self, lr: float = 0.05, optimizer: str = "sgd", weight_decay: float = 0.0):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Linear(1, 1)
        self.setup_metrics()


def build(cfg: Config):
    data = LineData(cfg.n_samples, cfg.noise, cfg.batch_size, cfg.val_fraction, cfg.seed)
    return LinearRegression(cfg.lr, cfg.optimizer, cfg.weight_decay), data


FAMILY = Family("linreg", Config, build, "Linear regression on y = 2x + 1 + noise (SGD, MSE)")
