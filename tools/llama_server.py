"""llama.cpp's OpenAI-compatible server with the embedded model, on 127.0.0.1: the stand-in for a
vLLM deployment where there is no GPU (same protocol, reached through litellm's hosted_vllm/).

    python tools/llama_server.py --port 8300 [--model qwen2.5-coder-1.5b-instruct]
        [--n-ctx 8192] [--models-dir DIR]

Needs the `server` extra (llama-cpp-python[server]). The model file is assembled and checked
first, as for the embedded provider.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ciagent.llm.assets import EMBEDDED_MODELS, embedded_asset, ensure_model_file
from ciagent.settings import Settings

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument(
        "--model", choices=sorted(EMBEDDED_MODELS), default="qwen2.5-coder-0.5b-instruct"
    )
    args = parser.parse_args()
    asset = embedded_asset(args.model)
    model = ensure_model_file(args.models_dir or Settings().model_files_dir, asset)
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        args.model,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--n_ctx",
        str(args.n_ctx),
    ]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main()
