"""Tests of the billing engine (emulator/billing), named after the clauses they pin."""
