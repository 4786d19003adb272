"""Thin FastAPI handlers over `emulator.backend.Backend`: parse, call a model, shape."""
