"""A plain Lightning script, not a Runboard family: what a user brings."""

import sys

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from trainers import RunboardLogger


class Line(pl.LightningModule):
    def __init__(self, lr: float = 0.05, width: int = 8):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(1, width), torch.nn.ReLU(), torch.nn.Linear(width, 1))

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("my/train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("my/val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader():
    x = torch.linspace(-1, 1, 256).unsqueeze(1)
    return DataLoader(TensorDataset(x, 2 * x + 1), batch_size=16)


if __name__ == "__main__":
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.manual_seed(0)
    logger = RunboardLogger(experiment_name="byo", run_name="byo-line", tags={"team": "me"})
    trainer = pl.Trainer(logger=logger, max_epochs=epochs, log_every_n_steps=2, accelerator="cpu",
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(Line(), loader(), loader())
    print(logger.run_id)
