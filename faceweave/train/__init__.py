"""Pieces every faceweave trainer shares: checkpoints, torchrun/DDP, logging, signals; one module per trainer."""
