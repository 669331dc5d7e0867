"""Prompt tokens sent per transcript token, for one enrichment result.

    python tools/token_ratio.py TRANSCRIPT RESULT.json

Transcript tokens are counted with the embedded model's own tokenizer on the transcript as a
reader sees it (`Speaker: text` lines, corpus markers included), and again without the markers;
prompt tokens are the usage the model reported for every call (`cost.prompt_tokens`). The
breakdown re-chunks the transcript with the default settings (as the run did) and splits the
prompt tokens into: transcript text as sent (markers removed), overlap between chunks, `[n]` line
numbers, and the rest (instructions, the worked example, chat template, the summary call).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ciagent import EpisodeEnrichment, Settings, load_transcript
from ciagent.api import reading
from ciagent.chunking import chunk_text, chunk_transcript
from ciagent.llm.embedded import EmbeddedOptions, LocalLlama
from ciagent.textnorm import clean
from ciagent.tokens import token_counter

_NUMBER = re.compile(r"^\[\d+\] ", re.MULTILINE)


def main(transcript_path: str, result_path: str) -> None:
    transcript = load_transcript(transcript_path)
    result = EpisodeEnrichment.model_validate_json(Path(result_path).read_text())
    settings = Settings()
    llama = LocalLlama.get(
        EmbeddedOptions(models_dir=settings.model_files_dir, n_ctx=settings.embedded_context)
    )
    raw = llama.count_tokens(transcript.render())
    cleaned = llama.count_tokens(
        "\n".join(
            f"{s.speaker}: {clean(s.text)}" if s.speaker else clean(s.text)
            for s in transcript.segments
        )
    )
    cost = result.cost
    print(f"transcript: {transcript_path} ({len(transcript.segments)} segments)")
    print(f"transcript tokens: {raw} as written, {cleaned} without corpus markers")
    print(
        f"calls: {cost.calls}, prompt tokens: {cost.prompt_tokens}, "
        f"completion tokens: {cost.completion_tokens}, wall: {cost.wall_s:.1f} s, "
        f"usd: {cost.usd:.6f}"
    )
    print(
        f"prompt/transcript: {cost.prompt_tokens / raw:.3f} (as written), "
        f"{cost.prompt_tokens / cleaned:.3f} (without markers)"
    )
    chunks = chunk_transcript(
        transcript, token_counter(), reading(settings).chunk_tokens, settings.chunk_overlap_tokens
    )
    texts = [chunk_text(transcript, chunk) for chunk in chunks]
    numbered = sum(llama.count_tokens(text) for text in texts)
    plain = sum(llama.count_tokens(_NUMBER.sub("", text)) for text in texts)
    print(f"breakdown over {len(chunks)} chunks (tokens, and per transcript token as written):")
    for label, tokens in (
        ("transcript text sent, markers removed", cleaned),
        ("overlap between chunks", plain - cleaned),
        ("[n] line numbers", numbered - plain),
        ("instructions, example, template, summary call", cost.prompt_tokens - numbered),
    ):
        print(f"  {label:<48} {tokens:>7}  {tokens / raw:.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
