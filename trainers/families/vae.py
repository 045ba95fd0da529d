"""``vae``: a small variational autoencoder on the 8×8 digits."""

from pydantic import Field

from trainers.config import SystemConfig
from trainers.data import TabularClassData
from trainers.family import Family
from trainers.nets import VAE
from trainers.systems import VAESystem


class Config(SystemConfig):
    hidden: int = Field(128, ge=1, le=4096, description="Hidden units in encoder and decoder.")
    latent_dim: int = Field(8, ge=1, le=512, description="Size of the latent code.")
    beta: float = Field(1.0, ge=0, le=100, description="Weight of the KL term.")


class DigitsVAE(VAESystem):
    def __init__(
        self,
        hidden: int = 128,
        latent_dim: int = 8,
        beta: float = 1.0,
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = VAE(64, hidden, latent_dim)


def build(cfg: Config):
    model = DigitsVAE(cfg.hidden, cfg.latent_dim, cfg.beta, cfg.lr, cfg.optimizer, cfg.weight_decay)
    data = TabularClassData("digits", False, 1.0, cfg.batch_size, cfg.val_fraction, cfg.seed)
    return model, data


FAMILY = Family("vae", Config, build, "Variational autoencoder on 8×8 digits (reconstruction + KL)")
