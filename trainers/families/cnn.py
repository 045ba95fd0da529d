"""``cnn``: the seed's small conv net on the digits as 1×8×8 images."""

from pydantic import Field

from trainers.config import SystemConfig
from trainers.data import TabularClassData
from trainers.family import Family
from trainers.nets import SmallCNN
from trainers.systems import ClassifierSystem


class Config(SystemConfig):
    channels: int = Field(16, ge=1, le=512, description="Filters in the first conv layer (doubled in the second).")
    dropout: float = Field(0.25, ge=0, lt=1, description="Dropout before the classifier head.")
    class_balance: float = Field(1.0, gt=0, le=1, description="Keep this share of digits 5–9 (1 = as shipped).")


class CNNClassifier(ClassifierSystem):
    def __init__(
        self,
        channels: int = 16,
        dropout: float = 0.25,
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = SmallCNN(channels, 10, dropout)
        self.setup_metrics(10)


def build(cfg: Config):
    model = CNNClassifier(cfg.channels, cfg.dropout, cfg.lr, cfg.optimizer, cfg.weight_decay)
    data = TabularClassData("digits", True, cfg.class_balance, cfg.batch_size, cfg.val_fraction, cfg.seed)
    return model, data


FAMILY = Family("cnn", Config, build, "Digits classifier: small convolutional net on 8×8 images")
