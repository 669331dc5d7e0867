"""Test helpers for users and for ciagent's own tests: deterministic fake models.

import ciagent
from ciagent.testing import FakeModel
fake = FakeModel()
result = ciagent.enrich("episode.txt", model=fake)
"""

from __future__ import annotations

from ciagent.llm.fake import FakeModel, FakeRequest, default_answer

__all__ = ["FakeModel", "FakeRequest", "default_answer"]
