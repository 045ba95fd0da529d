"""The one vocabulary of metric names, imported by trainers and dashboard alike."""

TRAIN_LOSS = "train/loss"
VAL_LOSS = "val/loss"
VAL_ACC = "val/acc"
VAL_PRECISION = "val/precision"
VAL_RECALL = "val/recall"
VAL_F1 = "val/f1"
VAL_MSE = "val/mse"
VAL_MAE = "val/mae"
VAL_R2 = "val/r2"
VAL_RECON = "val/recon_loss"
VAL_KL = "val/kl"
TRAIN_RECON = "train/recon_loss"
TRAIN_KL = "train/kl"
EPOCH = "epoch"  # logged by Lightning beside every step metric; maps steps to epochs
VAL_PERPLEXITY = "val/perplexity"  # language models: exp(val/loss)
# GANs: generator and discriminator losses (val/loss of a GAN is its held-out discriminator loss).
TRAIN_G_LOSS = "train/g_loss"
TRAIN_D_LOSS = "train/d_loss"
VAL_G_LOSS = "val/g_loss"
VAL_D_LOSS = "val/d_loss"

# Per-step training health, logged by Runboard's logger for any Lightning module.
TRAIN_LR = "train/lr"
TRAIN_GRAD_NORM = "train/grad_norm"
SAMPLES_PER_S = "throughput/samples_per_s"
TOKENS_PER_S = "throughput/tokens_per_s"  # when the LightningModule sets ``tokens_per_sample``

# System metrics use MLflow's own names (mlflow.system_metrics), so runs logged with
# ``mlflow.enable_system_metrics_logging()`` chart the same way.
SYSTEM_PREFIX = "system/"

CLASSIFICATION = (VAL_LOSS, VAL_ACC, VAL_PRECISION, VAL_RECALL, VAL_F1)
REGRESSION = (VAL_LOSS, VAL_MSE, VAL_MAE, VAL_R2)
AUTOENCODER = (VAL_LOSS, VAL_RECON, VAL_KL)

# Direction of "better", for best-run marks and sweeps. Unknown names: guessed by `higher_is_better`.
_HIGHER = {VAL_ACC, VAL_PRECISION, VAL_RECALL, VAL_F1, VAL_R2}


def higher_is_better(name: str) -> bool:
    """True for accuracy-like metrics; loss/error-like and unknown names default to lower."""
    if name in _HIGHER:
        return True
    leaf = name.rsplit("/", 1)[-1].lower()
    return leaf in {"acc", "accuracy", "precision", "recall", "f1", "auc", "auroc", "r2", "iou", "map"}

# Each built-in family's headline metric: the Runs table leads with these. Kept here by family name
# (not on the registry's Family) so the dashboard reads it without importing torch.
PRIMARY = {"mlp": VAL_ACC, "cnn": VAL_ACC, "lstm": VAL_ACC, "linreg": VAL_MSE, "vae": VAL_LOSS,
           "gpt": VAL_PERPLEXITY, "gan": VAL_G_LOSS}
# Logged beside the results but not results themselves: counters, optimiser and machine health.
_NOT_MAIN = {EPOCH, TRAIN_LR, TRAIN_GRAD_NORM}
_NOT_MAIN_PREFIXES = (SYSTEM_PREFIX, "throughput/")


def is_main(name: str) -> bool:
    """A result a user compares runs by (losses, accuracies), not a counter or a health signal."""
    return name not in _NOT_MAIN and not name.startswith(_NOT_MAIN_PREFIXES)
