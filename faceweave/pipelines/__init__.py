"""Inference pipelines, one sub-package per paper: a trained model applied to faces of real photos.

A pipeline aligns a face to its model's frame, runs the model and pastes the result back; the
engines (:mod:`faceweave.engines`) and the public API (:mod:`faceweave.api`) call it.
"""
