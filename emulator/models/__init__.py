"""The emulator's rules, one module per aggregate, testable without HTTP.

`emulator.backend.Backend` bundles them over one store and one virtual clock.
"""
