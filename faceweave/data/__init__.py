"""RSGAN training data: the Fig. 3 dataset builder (``builder``), its CLI (``cli``) and ``RSGANDataset``."""
