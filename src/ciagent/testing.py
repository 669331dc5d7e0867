"""Test helpers for users and for ciagent's own tests: deterministic fake models.

from ciagent.testing import FakeModel
fake = FakeModel()
result = ciagent.enrich("episode.txt", Settings(model=fake.model_id))
"""

from __future__ import annotations

from ciagent.llm.fake import FakeModel, FakeRequest, default_answer

__all__ = ["FakeModel", "FakeRequest", "default_answer"]
