"""Training logs: TensorBoard scalars and image grids, a JSON-lines metrics file, a tqdm progress bar.

Only the main rank (rank 0) writes; on other ranks :class:`TrainLogger` is a no-op. The progress
bar shows the step, steps/s and the ETA to ``--max-steps``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


class TrainLogger:
    """TensorBoard + ``metrics.jsonl`` + tqdm, enabled on the main rank only."""

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        enabled: bool = True,
        total_steps: int | None = None,
        start_step: int = 0,
        progress: bool = True,
        tensorboard: bool = True,
    ) -> None:
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self._writer = None
        self._bar = None
        self._metrics = None
        self._t0 = time.perf_counter()
        self._start_step = start_step
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(
                    log_dir=str(self.run_dir / "tb"), purge_step=start_step + 1 if start_step else None
                )
            except ImportError:  # pragma: no cover - tensorboard is a dependency
                log.warning("tensorboard is not installed; no TensorBoard logs")
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, smoothing=0.1)

    def scalars(self, step: int, values: dict[str, float], prefix: str = "loss") -> None:
        """One line in metrics.jsonl, one TensorBoard scalar per value."""
        if not self.enabled:
            return
        rec: dict[str, Any] = {"step": step, **{k: float(v) for k, v in values.items()}}
        assert self._metrics is not None
        self._metrics.write(json.dumps(rec) + "\n")
        self._metrics.flush()
        if self._writer is not None:
            for k, v in values.items():
                self._writer.add_scalar(f"{prefix}/{k}", float(v), step)

    def truncate_after(self, step: int) -> None:
        """Drop metrics.jsonl records after ``step`` (a resumed run rewrites what the dead run logged)."""
        if not self.enabled or self._metrics is None:
            return
        self._metrics.close()
        path = self.run_dir / "metrics.jsonl"
        kept = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and _step_of(ln) <= step]
        path.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")
        self._metrics = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def image_grid(self, step: int, tag: str, rows: list[torch.Tensor]) -> None:
        """A grid of images in [0, 1]: each tensor of ``rows`` [B, 3, H, W] is one row."""
        if not self.enabled or self._writer is None:
            return
        self._writer.add_image(tag, make_grid(rows), step)

    def progress(self, step: int, postfix: dict[str, float] | None = None) -> None:
        if self._bar is None:
            return
        self._bar.n = step
        if postfix:
            self._bar.set_postfix({k: f"{v:.3g}" for k, v in postfix.items()}, refresh=False)
        self._bar.refresh()

    def steps_per_second(self, step: int) -> float:
        dt = time.perf_counter() - self._t0
        return (step - self._start_step) / dt if dt > 0 else 0.0

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
        if self._metrics is not None:
            self._metrics.close()
        self._bar = self._writer = self._metrics = None


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (ValueError, AttributeError):
        return 0


def make_grid(rows: list[torch.Tensor], pad: int = 2) -> torch.Tensor:
    """Stack rows of images [B, 3, H, W] in [0, 1] into one [3, H', W'] grid (white padding)."""
    n = max(r.shape[0] for r in rows)
    _, c, h, w = rows[0].shape
    grid = torch.ones(c, len(rows) * (h + pad) + pad, n * (w + pad) + pad)
    for i, row in enumerate(rows):
        for j in range(row.shape[0]):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[:, y : y + h, x : x + w] = row[j].detach().float().cpu().clamp(0, 1)
    return grid
