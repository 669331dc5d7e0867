"""A peer beside ciagent: LangChain's map-reduce summarize chain on the same embedded GGUF.

    .venv-peer/bin/python -m tools.peer_langchain [DATASET ...] [--ciagent SCORES.json]
        [--port 8310] [--chunk-tokens 2000] [--max-tokens 512] [--server-python PYTHON]
        [--out FILE]

`load_summarize_chain(chain_type="map_reduce")` with its default prompts, as its documentation
shows it, over `ChatOpenAI` pointed at `tools/llama_server.py` (llama.cpp's OpenAI-compatible
server on 127.0.0.1, the default 0.5B model, temperature 0). Each transcript is rendered as
ciagent renders it ("Speaker: text" lines) and split by `RecursiveCharacterTextSplitter` into
chunks of `--chunk-tokens` tokens. The summaries are scored with ciagent's ROUGE
(`ciagent.evals.metrics.rouge`) against the same gold as `ciagent eval`; `--ciagent` takes that
command's `--out` file and puts its figures beside the peer's.

LangChain is not a dependency of ciagent: it lives in a venv of its own (tools/README.md):

    python3.11 -m venv .venv-peer
    .venv-peer/bin/pip install -e '.[eval]' -r tools/requirements-peer.txt

The server runs on `--server-python` (default: the project's .venv, which has the `server`
extra). Default datasets: evals/golden.jsonl and the QMSum meetings in ../shared/datasets/qmsum.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from ciagent.evals.datasets import EvalEpisode, read_dataset
from ciagent.evals.metrics import rouge
from ciagent.tokens import bundled_encoding_dir, token_counter
from ciagent.transcripts import load_transcript

__all__ = ["main", "summarize"]

_ROOT = Path(__file__).resolve().parent.parent
_DEFAULTS = [
    _ROOT / "evals" / "golden.jsonl",
    *sorted((_ROOT.parent / "shared" / "datasets" / "qmsum").glob("*.json")),
]
_MODEL = "qwen2.5-coder-0.5b-instruct"


def _server(python: Path, port: int) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen(
        [str(python), str(_ROOT / "tools" / "llama_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the llama.cpp server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    process.terminate()
    raise SystemExit("the llama.cpp server did not start within 300 s")


def summarize(text: str, port: int, chunk_tokens: int, max_tokens: int) -> dict[str, Any]:
    """One map-reduce summary of `text`, with its calls, tokens and wall time."""
    from langchain_classic.chains.summarize import load_summarize_chain
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.documents import Document
    from langchain_core.outputs import LLMResult
    from langchain_openai import ChatOpenAI
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class Usage(BaseCallbackHandler):
        def __init__(self) -> None:
            self.calls = self.prompt = self.completion = 0

        def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
            usage = (response.llm_output or {}).get("token_usage") or {}
            self.calls += 1
            self.prompt += int(usage.get("prompt_tokens") or 0)
            self.completion += int(usage.get("completion_tokens") or 0)

    usage = Usage()
    llm = ChatOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key="unused",  # type: ignore[arg-type]
        model=_MODEL,
        temperature=0,
        max_tokens=max_tokens,  # type: ignore[call-arg]
        callbacks=[usage],
    )
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_tokens, chunk_overlap=0, length_function=token_counter()
    )
    documents = [Document(page_content=part) for part in splitter.split_text(text)]
    chain = load_summarize_chain(llm, chain_type="map_reduce")
    started = time.perf_counter()
    answer = chain.invoke({"input_documents": documents})
    return {
        "summary": str(answer["output_text"]).strip(),
        "chunks": len(documents),
        "calls": usage.calls,
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def _episodes(paths: list[Path]) -> list[EvalEpisode]:
    return [episode for path in paths for episode in read_dataset(path) if episode.summary]


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def _print(rows: list[dict[str, Any]]) -> None:
    header = f"{'episode':24} {'peer R-1':>8} {'peer R-L':>8} {'ci R-1':>7} {'ci R-L':>7} "
    print(header + f"{'calls':>5} {'prompt':>7} {'wall s':>7}")
    for row in rows:
        ours = [row.get("ciagent_rouge1"), row.get("ciagent_rougeL")]
        cells = ["-" if v is None else f"{v:.3f}" for v in ours]
        print(
            f"{row['episode']:24} {row['rouge1']:8.3f} {row['rougeL']:8.3f} {cells[0]:>7} "
            f"{cells[1]:>7} {row['calls']:5d} {row['prompt_tokens']:7d} {row['wall_s']:7.1f}"
        )
    groups = {
        "golden": [r for r in rows if r["golden"]],
        "qmsum": [r for r in rows if not r["golden"]],
    }
    for name, group in groups.items():
        if not group:
            continue
        means = {
            k: _mean(group, k) for k in ("rouge1", "rougeL", "ciagent_rouge1", "ciagent_rougeL")
        }
        text = " ".join(f"{k} {v:.3f}" for k, v in means.items() if v is not None)
        print(f"mean over {name} ({len(group)}): {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    parser.add_argument("--ciagent", type=Path, default=None, help="`ciagent eval --out` scores")
    parser.add_argument("--port", type=int, default=8310)
    parser.add_argument("--chunk-tokens", type=int, default=2000)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--server-python", type=Path, default=_ROOT / ".venv" / "bin" / "python")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    folder = bundled_encoding_dir()  # LangChain counts tokens with tiktoken: never a download
    if folder is not None:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(folder))
    paths = args.datasets or _DEFAULTS
    ours: dict[str, dict[str, Any]] = {}
    if args.ciagent is not None:
        ours = {row["episode"]: row for row in json.loads(args.ciagent.read_text())}
    server = _server(args.server_python, args.port)
    rows: list[dict[str, Any]] = []
    try:
        for path in paths:
            for episode in _episodes([path]):
                text = load_transcript(Path(episode.transcript)).render()
                answer = summarize(text, args.port, args.chunk_tokens, args.max_tokens)
                scores = rouge(answer["summary"], episode.summary or "")
                mine = ours.get(episode.id, {})
                rows.append(
                    {
                        "episode": episode.id,
                        "golden": path.suffix == ".jsonl",
                        **answer,
                        **scores,
                        "ciagent_rouge1": mine.get("rouge1"),
                        "ciagent_rougeL": mine.get("rougeL"),
                    }
                )
                print(
                    f"{episode.id}: R-1 {scores['rouge1']:.3f} in {answer['wall_s']} s", flush=True
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
    _print(rows)
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
