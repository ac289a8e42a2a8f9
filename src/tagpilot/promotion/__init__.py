"""Promotion between environments: the candidate read back from git, and the gates (pure decisions).

Their effects (copying the image, committing to the next environment) are in `engine/promotion.py`;
the digest-preserving copy itself is `registry/copy.py`.
"""

from tagpilot.promotion.candidate import Candidate, read_candidate
from tagpilot.promotion.gates import GateResult, soak_gate

__all__ = ["Candidate", "GateResult", "read_candidate", "soak_gate"]
