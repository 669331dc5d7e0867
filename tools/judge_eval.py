"""Claim judges measured by balanced accuracy on a labelled claim set from the QMSum meetings.

    python -m tools.judge_eval [DATASET ...] [--judge rules|model ...] [--model ID ...]
        [--limit N] [--per-class N] [--specific] [--seed N] [--config FILE] [--cache]
        [--no-lexical] [--claim-judge auto|verdict|contrast|lexical] [--control] [--counts]
        [--out FILE]

The claims come from `ciagent.evals.claimset.build_claim_set` (defaults: the QMSum meetings under
../shared/datasets/qmsum): gold summary sentences (supported), the same sentences with a name, a
number or the verb changed (contradicted), and other meetings' sentences (not_found). Each claim
is judged on evidence from its own meeting's transcript, retrieved as the claims step retrieves it
(`Evidence.retrieve` on a `SegmentIndex` of all the segments, `claim_evidence` hits and their
neighbours; no segment is untrusted, as no notes were taken). Judges:

- rules: `settled_without_model` alone. It rules on a claim only when it copies an evidence line
  (supported), has no evidence (not_found) or its words settle it (`ciagent.entailment`); a claim
  it leaves to a judge is counted as predicted supported (nothing found against it), and the
  `unsettled` column says how many there were;
- model: `ciagent.steps.claims.judge` on each `--model` (default the embedded 0.5B), one claim at
  a time as the claims step does on a small model (a larger one would judge claims in groups):
  weighed against its negation (two one-token calls) or asked for a verdict, as the model's
  reading chooses (`--claim-judge` to choose); a claim the judge left `unchecked` (its call
  failed, nothing to negate) counts as missed. The lexical checks rule first, as in the claims
  step, unless `--no-lexical`.

`--control` judges each model's claims again, the lexical checks ruling as before but the model
reading the evidence lines of a claim of another meeting: a judge whose verdicts come from the
evidence scores far lower there; one that scores the same is reading something else (the
claim's wording).

Balanced accuracy is the mean of the classes' recalls (1/3 for a judge that calls everything
supported). `--counts` prints the claim set's make-up and stops; `--limit N` judges N claims taken
in turn from each class and meeting, for a quick run. Answers are not cached unless `--cache`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from ciagent.api import model_specs
from ciagent.cache import response_cache
from ciagent.evals.claimset import (
    LABELS,
    LabelledClaim,
    balanced_accuracy,
    build_claim_set,
    confusion,
    per_class_recall,
    spread,
)
from ciagent.evals.datasets import read_dataset
from ciagent.llm.backend import CallTag
from ciagent.llm.call import ModelClient
from ciagent.llm.reading import reading_for
from ciagent.llm.usage import UsageMeter
from ciagent.resolve import backend, resolved
from ciagent.retrieval import SegmentIndex
from ciagent.settings import DEFAULT_MODEL, Settings
from ciagent.state import RunContext
from ciagent.steps.claims import Evidence, judge, judged_by_model, settled_without_model
from ciagent.tokens import token_counter
from ciagent.transcripts import load_transcript

__all__ = ["JudgeRow", "context_for", "evidence_for", "judge_all", "main"]

_ROOT = Path(__file__).resolve().parent.parent
QMSUM = _ROOT.parent / "shared" / "datasets" / "qmsum"


class JudgeRow(BaseModel):
    """One judge's measurement, with what it said of each claim."""

    judge: str
    n: int
    balanced_accuracy: float
    recall: dict[str, float]
    confusion: dict[str, dict[str, int]]
    unsettled: int  # claims the non-model checks left to a judge
    calls: int
    wall_s: float
    predicted: list[str]


def evidence_for(claims: list[LabelledClaim], paths: list[Path], k: int) -> list[Evidence]:
    """Each claim's evidence from its own meeting's transcript, as the claims step retrieves it."""
    transcripts = {e.id: load_transcript(e.transcript) for p in paths for e in read_dataset(p)}
    indexes = {meeting: SegmentIndex(t.segments) for meeting, t in transcripts.items()}
    return [
        Evidence.retrieve(transcripts[c.meeting], indexes[c.meeting], c.text, k) for c in claims
    ]


def context_for(settings: Settings, cache: bool = False) -> RunContext:
    """A run context on `settings.model` alone, read as `ciagent.api.aenrich` reads it."""
    settings = resolved(settings)
    (spec,) = model_specs(settings)
    reading = reading_for(settings, (spec,))
    settings = settings.model_copy(update={"max_output_tokens": reading.output_tokens})
    responses = response_cache(settings) if cache else None
    client = ModelClient(settings, backend(settings), UsageMeter(), responses)
    return RunContext(
        settings=settings, client=client, count_tokens=token_counter(), reading=reading
    )


def another_meetings(claims: list[LabelledClaim], evidence: list[Evidence]) -> list[Evidence]:
    """For each claim, the evidence of a claim of the next meeting (the control: a judge that
    reads its evidence must rule differently on lines about something else)."""
    meetings = list(dict.fromkeys(c.meeting for c in claims))
    pools: dict[str, list[Evidence]] = {}
    for claim, found in zip(claims, evidence, strict=True):
        pools.setdefault(claim.meeting, []).append(found)
    following = {m: meetings[(i + 1) % len(meetings)] for i, m in enumerate(meetings)}
    return [
        pools[following[c.meeting]][n % len(pools[following[c.meeting]])]
        for n, c in enumerate(claims)
    ]


async def judge_all(
    name: str,
    claims: list[LabelledClaim],
    evidence: list[Evidence],
    ctx: RunContext | None,
    read: list[Evidence] | None = None,
) -> JudgeRow:
    """The claims judged by the non-model checks (no `ctx`) or by `judge` on `ctx`'s model. With
    `read`, the model judges what the checks leave on those lines instead (the control)."""
    started = time.perf_counter()
    lexical = ctx is None or ctx.settings.lexical_checks
    settled = [
        settled_without_model(c.text, e, lexical) for c, e in zip(claims, evidence, strict=True)
    ]
    if ctx is None:
        predicted: list[str] = [s.verdict if s is not None else "supported" for s in settled]
        calls = 0
    else:
        gate = asyncio.Semaphore(ctx.settings.concurrency)

        async def one(number: int, claim: LabelledClaim, found: Evidence) -> str:
            async with gate:
                step = CallTag("judge", part=str(number))
                if read is None:
                    return (await judge(ctx, step, claim.text, found)).verdict
                done = settled[number]
                if done is not None:
                    return done.verdict
                return (await judged_by_model(ctx, step, claim.text, read[number])).verdict

        answers = [one(n, c, e) for n, (c, e) in enumerate(zip(claims, evidence, strict=True))]
        predicted = list(await asyncio.gather(*answers))
        calls = len(ctx.client.meter.records)
    pairs = [(c.label, p) for c, p in zip(claims, predicted, strict=True)]
    return JudgeRow(
        judge=name,
        n=len(claims),
        balanced_accuracy=balanced_accuracy(pairs),
        recall=per_class_recall(pairs),
        confusion=confusion(pairs),
        unsettled=settled.count(None),
        calls=calls,
        wall_s=round(time.perf_counter() - started, 2),
        predicted=predicted,
    )


def _counts_table(claims: list[LabelledClaim]) -> Table:
    kinds = sorted({c.kind for c in claims})
    table = Table("meeting", *LABELS, *kinds)
    for meeting in [*dict.fromkeys(c.meeting for c in claims), "all"]:
        of = [c for c in claims if meeting in ("all", c.meeting)]
        labels, by_kind = Counter(c.label for c in of), Counter(c.kind for c in of)
        table.add_row(meeting, *(str(labels[x]) for x in LABELS), *(str(by_kind[k]) for k in kinds))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", type=Path, help="QMSum meeting JSON files")
    parser.add_argument("--judge", action="append", choices=["rules", "model"])
    parser.add_argument("--model", action="append", help=f"model id (default {DEFAULT_MODEL})")
    parser.add_argument("--limit", type=int, default=None, help="judge this many claims at most")
    parser.add_argument("--per-class", type=int, default=25, help="claims per class per meeting")
    parser.add_argument("--specific", action="store_true", help="add specific-query answers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--cache", action="store_true", help="reuse cached model answers")
    parser.add_argument(
        "--no-lexical", action="store_true", help="model judges without the lexical checks"
    )
    parser.add_argument(
        "--claim-judge",
        choices=["auto", "verdict", "contrast", "lexical"],
        default=None,
        help="judge style",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="judge again on another meeting's lines: a judge that reads them must do worse",
    )
    parser.add_argument("--counts", action="store_true", help="print the claim set and stop")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    paths = args.datasets or sorted(QMSUM.glob("*.json"))
    claims = build_claim_set(paths, args.seed, per_class=args.per_class, specific=args.specific)
    claims = spread(claims, args.limit) if args.limit else claims
    console = Console(width=160)
    console.print(_counts_table(claims))
    if args.counts:
        return
    base = Settings.load(
        args.config,
        lexical_checks=False if args.no_lexical else None,
        claim_judge=args.claim_judge,
    )
    evidence = evidence_for(claims, paths, base.claim_evidence)
    rows: list[JudgeRow] = []
    for name in args.judge or ["rules", "model"]:
        models = (args.model or [DEFAULT_MODEL]) if name == "model" else [None]
        for model in models:
            ctx = None
            if model is not None:
                ctx = context_for(base.model_copy(update={"model": model}), args.cache)
            label = name if model is None else f"model:{model}"
            if model is not None and args.no_lexical:
                label += " (no lexical checks)"
            if model is not None and ctx is not None:
                label += f" ({ctx.reading.judge})"
            row = asyncio.run(judge_all(label, claims, evidence, ctx))
            rows.append(row)
            console.print(f"{row.judge}: balanced accuracy {row.balanced_accuracy:.3f}")
            if args.control and ctx is not None:
                lines = another_meetings(claims, evidence)
                label += " on another meeting's lines"
                rows.append(asyncio.run(judge_all(label, claims, evidence, ctx, lines)))
                console.print(f"{label}: balanced accuracy {rows[-1].balanced_accuracy:.3f}")
    recalls = [f"recall {label}" for label in LABELS]
    table = Table("judge", "n", "bal.acc", *recalls, "unsettled", "calls", "wall s")
    for row in rows:
        table.add_row(
            row.judge,
            str(row.n),
            f"{row.balanced_accuracy:.3f}",
            *(f"{row.recall.get(label, 0.0):.2f}" for label in LABELS),
            str(row.unsettled),
            str(row.calls),
            f"{row.wall_s:.1f}",
        )
    console.print(table)
    if args.out is not None:
        report = {
            "claims": [c.model_dump() for c in claims],
            "judges": [r.model_dump() for r in rows],
        }
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
