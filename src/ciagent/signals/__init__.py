"""Extractors ciagent ships, written with the public extractor API only (`ciagent.extractors`):
name them in `Settings(extractors=...)` like any of your own, e.g.
`extractors = ["ciagent.signals.segments:ContentSegment"]`."""
