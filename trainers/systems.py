"""LightningModules that own loss, metrics and optimizer; the network is a plain ``nn.Module``.

Family modules subclass these with explicit typed ``__init__`` arguments and call
``save_hyperparameters()``; the optimizer reads ``self.hparams``.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics
from torchmetrics import classification as tmc

from trainers import metrics as m


class System(pl.LightningModule):
    """Optimizer from ``hparams.optimizer`` / ``lr`` / ``weight_decay``."""

    def configure_optimizers(self):
        hp = self.hparams
        opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[hp.optimizer]
        return opt(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)

    def log_train_loss(self, loss: torch.Tensor) -> None:
        self.log(m.TRAIN_LOSS, loss, on_step=True, on_epoch=False)


class ClassifierSystem(System):
    """Cross-entropy over ``num_classes`` logits, or BCE over one logit when ``binary``.

    Validation logs accuracy and macro precision / recall / F1 (binary: of the positive class)
    and keeps the epoch's confusion matrix in ``self.confusion`` for the artifact callback.
    """

    binary: bool = False
    class_names: list[str] | None = None

    def setup_metrics(self, num_classes: int) -> None:
        self.num_classes = num_classes
        if self.binary:
            self.val_metrics = torchmetrics.MetricCollection({
                m.VAL_ACC: tmc.BinaryAccuracy(), m.VAL_PRECISION: tmc.BinaryPrecision(),
                m.VAL_RECALL: tmc.BinaryRecall(), m.VAL_F1: tmc.BinaryF1Score(),
            })
            self.val_confusion = tmc.BinaryConfusionMatrix()
        else:
            kw = {"num_classes": num_classes, "average": "macro"}
            self.val_metrics = torchmetrics.MetricCollection({
                m.VAL_ACC: tmc.MulticlassAccuracy(num_classes=num_classes, average="micro"),
                m.VAL_PRECISION: tmc.MulticlassPrecision(**kw), m.VAL_RECALL: tmc.MulticlassRecall(**kw),
                m.VAL_F1: tmc.MulticlassF1Score(**kw),
            })
            self.val_confusion = tmc.MulticlassConfusionMatrix(num_classes=num_classes)
        self.confusion: dict | None = None

    def forward(self, x):
        return self.net(x)

    def _loss(self, logits, y):
        if self.binary:
            return F.binary_cross_entropy_with_logits(logits, y.float())
        return F.cross_entropy(logits, y)

    def _preds(self, logits):
        return torch.sigmoid(logits) if self.binary else logits.argmax(-1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self._loss(self(x), y)
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log(m.VAL_LOSS, self._loss(logits, y), on_epoch=True)
        preds = self._preds(logits)
        self.val_metrics.update(preds, y)
        self.val_confusion.update(preds, y)

    def on_validation_epoch_end(self):
        self.log_dict(self.val_metrics.compute())
        self.val_metrics.reset()
        matrix = self.val_confusion.compute().tolist()  # (actual, predicted)
        self.val_confusion.reset()
        labels = self.class_names or [str(i) for i in range(len(matrix))]
        self.confusion = {"epoch": self.current_epoch, "labels": labels, "matrix": matrix}


class RegressionSystem(System):
    def setup_metrics(self) -> None:
        self.val_metrics = torchmetrics.MetricCollection({
            m.VAL_MSE: torchmetrics.MeanSquaredError(), m.VAL_MAE: torchmetrics.MeanAbsoluteError(),
            m.VAL_R2: torchmetrics.R2Score(),
        })

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self(x), y)
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        pred = self(x)
        self.log(m.VAL_LOSS, F.mse_loss(pred, y), on_epoch=True)
        self.val_metrics.update(pred.squeeze(-1), y.squeeze(-1))

    def on_validation_epoch_end(self):
        self.log_dict(self.val_metrics.compute())
        self.val_metrics.reset()


class VAESystem(System):
    """Loss = reconstruction (BCE summed over pixels, mean over batch) + beta · KL."""

    def _terms(self, x):
        logits, mu, logvar = self.net(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        return recon, kl

    def training_step(self, batch, batch_idx):
        recon, kl = self._terms(batch[0])
        loss = recon + self.hparams.beta * kl
        self.log_train_loss(loss)
        self.log_dict({m.TRAIN_RECON: recon, m.TRAIN_KL: kl}, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, batch_idx):
        recon, kl = self._terms(batch[0])
        self.log_dict({m.VAL_LOSS: recon + self.hparams.beta * kl, m.VAL_RECON: recon, m.VAL_KL: kl}, on_epoch=True)
