"""Training utilities shared by the chapters: seeding, devices, learning-rate schedules, a training loop."""

from .device import default_device
from .loop import NonFiniteLossError, Trainer, TrainingHistory, kept_checkpoint_path
from .seed import seed_everything

__all__ = ["default_device", "seed_everything", "Trainer", "TrainingHistory", "NonFiniteLossError", "kept_checkpoint_path"]
