"""Bundled demo API (FastAPI + SQLite, seeded): movies, cinemas, reviews and weather tools for demos and tests."""

from goat_datasets.demo_api.app import create_app, serve

__all__ = ["create_app", "serve"]
