"""Built-in model families: one file each (config + LightningModule + build), listed in the registry."""
