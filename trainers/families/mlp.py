"""``mlp``: the seed's MNIST multi-layer perceptron on scikit-learn's 8×8 digits (or breast cancer)."""

from typing import Literal

from pydantic import Field

from trainers.config import SystemConfig
from trainers.data import TABULAR, TabularClassData
from trainers.family import Family
from trainers.nets import MLP
from trainers.systems import ClassifierSystem


class Config(SystemConfig):
    dataset: Literal["digits", "breast_cancer"] = Field("digits", description="Bundled dataset to classify.")
    hidden: int = Field(128, ge=1, le=4096, description="Units per hidden layer.")
    layers: int = Field(2, ge=1, le=8, description="Hidden layers.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after each hidden layer.")
    class_balance: float = Field(
        1.0, gt=0, le=1, description="Keep this share of the upper half of classes (1 = as shipped)."
    )


class MLPClassifier(ClassifierSystem):
    def __init__(
        self,
        in_features: int = 64,
        num_classes: int = 10,
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.1,
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = MLP(in_features, hidden, layers, num_classes, dropout)
        self.setup_metrics(num_classes)


def build(cfg: Config):
    features, classes = TABULAR[cfg.dataset]
    model = MLPClassifier(
        features, classes, cfg.hidden, cfg.layers, cfg.dropout, cfg.lr, cfg.optimizer, cfg.weight_decay
    )
    data = TabularClassData(cfg.dataset, False, cfg.class_balance, cfg.batch_size, cfg.val_fraction, cfg.seed)
    return model, data


FAMILY = Family("mlp", Config, build, "Digits classifier: multi-layer perceptron")
