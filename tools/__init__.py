"""Operational scripts: local OpenAI-compatible servers for tests and benchmarks."""
