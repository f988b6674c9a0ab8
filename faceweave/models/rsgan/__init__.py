"""RSGAN (Natsume, Yatagawa, Morishima 2018): face swapping and editing through face/hair latent spaces.

``RSGAN`` is the network (separators, composer, discriminators, classifier) with ``swap``,
``reconstruct``, ``encode``, ``compose``, ``classify``; ``RSGANConfig`` its sizes; the losses of
Eq. 1–7 live in :mod:`faceweave.models.rsgan.losses`; training in :mod:`faceweave.train.rsgan`.
"""

from faceweave.models.rsgan.config import RSGANConfig
from faceweave.models.rsgan.model import LATENT_KEYS, NETWORKS, RSGAN, RSGANLatents

__all__ = ["RSGAN", "RSGANConfig", "RSGANLatents", "LATENT_KEYS", "NETWORKS"]
