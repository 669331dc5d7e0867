"""The model call path: structured calls, the embedded local provider, fake models, usage."""
