"""Runs: scoring of graded draws, the run store, and the resumable pipeline."""
