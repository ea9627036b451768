"""PRM scorers, registered by name; each imports its optional dependencies when it is built."""

from __future__ import annotations

from surestep.prm.scorers.base import PRMScorer, SolutionToScore, StepScores, length_buckets

__all__ = ["PRMScorer", "SolutionToScore", "StepScores", "length_buckets"]
