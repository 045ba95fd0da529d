"""``lstm``: binary text classifier on seeded synthetic sentences whose label is word order."""

from pydantic import Field

from trainers.config import SystemConfig
from trainers.data import OrderTextData
from trainers.family import Family
from trainers.nets import LSTMClassifier
from trainers.systems import ClassifierSystem


class Config(SystemConfig):
    lr: float = Field(5e-3, gt=0, le=10, description="Learning rate.")
    embed_dim: int = Field(32, ge=1, le=1024, description="Word embedding size.")
    hidden: int = Field(64, ge=1, le=2048, description="LSTM hidden units.")
    n_samples: int = Field(2000, ge=20, le=1_000_000, description="Sentences to generate.")
    seq_len: int = Field(12, ge=2, le=512, description="Words per sentence.")
    vocab_size: int = Field(50, ge=4, le=100_000, description="Vocabulary size (ids 1 and 2 are the order markers).")
    positive_fraction: float = Field(0.5, gt=0, lt=1, description="Share of positive sentences (< 0.5: imbalanced).")


class OrderLSTM(ClassifierSystem):
    binary = True
    class_names = ["negative", "positive"]

    def __init__(
        self,
        vocab_size: int = 50,
        embed_dim: int = 32,
        hidden: int = 64,
        lr: float = 5e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = LSTMClassifier(vocab_size, embed_dim, hidden)
        self.setup_metrics(2)


def build(cfg: Config):
    model = OrderLSTM(cfg.vocab_size, cfg.embed_dim, cfg.hidden, cfg.lr, cfg.optimizer, cfg.weight_decay)
    data = OrderTextData(
        cfg.n_samples, cfg.seq_len, cfg.vocab_size, cfg.positive_fraction, cfg.batch_size, cfg.val_fraction, cfg.seed
    )
    return model, data


FAMILY = Family("lstm", Config, build, "Text classifier: embedding → LSTM → sigmoid, label is word order")
