"""Neural networks and their losses, one sub-package per paper (rsgan, ...); shared blocks in layers."""
