"""What every trainer's command line shares: the JSON/TOML config file and the ``python -m`` / torchrun entry."""

from __future__ import annotations

import argparse
import json
import logging
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faceweave.errors import FaceweaveError

log = logging.getLogger("faceweave.train")


def load_config_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a JSON or TOML config: returns (model section, loss section)."""
    p = Path(path)
    if not p.is_file():
        raise FaceweaveError(f"config file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise FaceweaveError(f"cannot parse config {p}: {e}") from e
    unknown = sorted(set(data) - {"model", "loss"})
    if unknown:
        raise FaceweaveError(f"config {p}: unknown sections {', '.join(unknown)} (expected model, loss)")
    return dict(data.get("model", {})), dict(data.get("loss", {}))


def run_trainer(parser: argparse.ArgumentParser, argv: list[str] | None,
                options_from_args: Callable[[argparse.Namespace], Any], train: Callable[[Any], Any]) -> int:
    """Parse, set up logging (rank 0 logs; other ranks only warnings), train; returns an exit code."""
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        level = logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = train(options_from_args(args))
    except FaceweaveError as e:
        log.error("%s", e)
        return e.exit_code
    if hasattr(result, "step"):
        log.info("finished at step %d; checkpoint %s", result.step, result.checkpoint)
    return 0
