import ciagent

EXPECTED = {
    "BatchInputError",
    "BudgetExceeded",
    "Chapter",
    "Chunk",
    "CiagentError",
    "ConfigError",
    "CostReport",
    "Entity",
    "EntityType",
    "EpisodeEnrichment",
    "Extractor",
    "InputError",
    "Mention",
    "ModelAssetError",
    "ModelCallError",
    "Provenance",
    "Quote",
    "SCHEMA_VERSION",
    "Segment",
    "Settings",
    "Span",
    "Step",
    "StepFailure",
    "StructuredOutputError",
    "Topic",
    "Transcript",
    "TranscriptError",
    "UsageLine",
    "VerificationReport",
    "__version__",
    "aenrich",
    "enrich",
    "enrich_many",
    "export",
    "extractor",
    "load_transcript",
    "step",
    "warmup",
}


def test_public_api_is_pinned() -> None:
    assert set(ciagent.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in ciagent.__all__:
        assert getattr(ciagent, name) is not None, name


def test_version_matches_package_metadata() -> None:
    from importlib.metadata import version

    assert ciagent.__version__ == version("ciagent")
