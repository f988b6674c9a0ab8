"""A small frozen stand-in identity net for AEI training-mechanics tests (resume, DDP): fast to build.

The tests of what z_id means (frozen net, gradients, the engine) use faceweave's real identity net.
Set AEI_STUB_SLEEP (seconds) to slow each call down, so a test can SIGKILL a trainer mid-run.
"""

from __future__ import annotations

import os
import time

import torch
from torch import nn


class StubIdentity(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(123)
        self.conv = nn.Conv2d(3, 8, 8, 8)
        self.fc = nn.Linear(8 * 14 * 14, 512)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delay = float(os.environ.get("AEI_STUB_SLEEP", "0"))
        if delay:
            time.sleep(delay)
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def stub() -> nn.Module:
    return StubIdentity()
