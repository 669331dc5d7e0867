"""Enrich the sample episode with the library API and print what was found.

python examples/quickstart.py [TRANSCRIPT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import ciagent


def main() -> None:
    default = Path(__file__).with_name("long-tide-ep41.vtt")
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    result = ciagent.enrich(path)
    print(f"status: {result.status}\n\n{result.summary}\n")
    for entity in result.entities:
        moments = ", ".join(f"{m.start:.0f}" for m in entity.mentions)
        print(f"- {entity.name} ({entity.type.value}) at {moments}")
    print("\ntopics:", ", ".join(f"{t.name} ({t.score:.2f})" for t in result.topics))
    cost = result.cost
    print(
        f"\n{cost.calls} calls, {cost.prompt_tokens}+{cost.completion_tokens} tokens, "
        f"${cost.usd:.5f}, {cost.wall_s:.0f} s"
    )


if __name__ == "__main__":
    main()
