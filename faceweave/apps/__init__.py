"""Compatibility alias: RSGAN's applications moved to :mod:`faceweave.pipelines.rsgan`.

The public functions are in :mod:`faceweave.api` (``faceweave.edit``, ``faceweave.sample``,
``faceweave.interpolate``, ``faceweave.api.attributes``).

Kept so code written against ``faceweave.apps`` keeps working; new code imports from the new homes.
"""

from faceweave.pipelines.rsgan.photos import attributes, edit, interpolate, sample

__all__ = ["attributes", "edit", "interpolate", "sample"]
