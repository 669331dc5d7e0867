"""The spend ledger: reserve the worst case before a call, settle the real cost after, release on
failure. Caps in USD and tokens, per scope (an episode, a run), never crossed under any concurrency.

The ledger is one SQLite file in WAL mode; every reservation is checked and written inside one
`BEGIN IMMEDIATE` transaction, so threads and processes sharing the file cannot both take the last
dollar. Spend counted against a cap = settled cost + open reservations.

A worst case is far above what a call usually costs, so several calls in flight can hold a cap
full while little is spent. A refusal that only the open holds of calls in flight cause is
`pending`; `BudgetGuard.areserve` waits for those holds to settle and asks again, and the refusal
stands only when the cap is really reached (or the holds are older than the patience given: the
calls behind them are gone).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ciagent.errors import BudgetExceeded, CapKind
from ciagent.files import move_aside

__all__ = [
    "DEFAULT_KEEP_DAYS",
    "BudgetGuard",
    "Cap",
    "Ledger",
    "Reservation",
    "Spend",
    "SpendLedger",
]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'settled', 'released')),
    usd REAL NOT NULL,
    tokens INTEGER NOT NULL,
    label TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_scope ON entries (scope, state);
"""


@dataclass(frozen=True)
class Cap:
    """A limit for one scope; None means no limit on that measure."""

    scope: str
    usd: float | None = None
    tokens: int | None = None
    kind: CapKind = "episode"  # whose cap: a run's stops every episode of a batch


@dataclass(frozen=True)
class Spend:
    usd: float
    tokens: int


@dataclass(frozen=True)
class Reservation:
    id: str
    scopes: tuple[str, ...]
    usd: float
    tokens: int


@dataclass(frozen=True)
class Hold:
    """What a reservation asks: `usd` and `tokens` held against every one of `caps`, under
    `label`. `fresh_s`: a refusal then says whether it is `pending` (only the holds made in the
    last `fresh_s` seconds stand in the way). `draw`: an earlier hold (an episode's admission)
    that gives up to `usd` and `tokens` of its own to this one, in its scopes."""

    caps: Sequence[Cap]
    usd: float
    tokens: int
    label: str
    fresh_s: float | None = None
    draw: Reservation | None = None


DEFAULT_KEEP_DAYS = 30.0
_pruned: set[tuple[Path, float]] = set()  # (ledger, keep_days) pruned by this process


class Ledger:
    """A ledger file shared by every thread and process that opens the same path.

    The rows of a scope (a run, an episode) with no call for `keep_days` are pruned (a hold
    that old is a call long gone), once a process on opening the file and whenever `prune` is
    called: the ledger holds the runs that may still go on, not every call ever made."""

    def __init__(
        self, path: Path, keep_days: float = DEFAULT_KEEP_DAYS, *, prune_on_open: bool = True
    ) -> None:
        if keep_days <= 0:
            raise ValueError("keep_days must be above 0")
        self.path = path
        self.keep_days = keep_days
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self._connection().executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            # A ledger SQLite cannot read (random bytes, a truncated file) is kept aside and a
            # new one started: the caps then count from what is spent from now on.
            connection = getattr(self._local, "connection", None)
            if connection is not None:
                connection.close()
            self._local = threading.local()
            aside = move_aside(path)
            log.warning(
                "the spend ledger %s could not be read (%s): moved aside to %s, starting anew",
                path,
                exc,
                aside,
            )
            self._connection().executescript(_SCHEMA)
        if prune_on_open and (path.resolve(), keep_days) not in _pruned:
            _pruned.add((path.resolve(), keep_days))
            self.prune()

    def prune(self, keep_days: float | None = None) -> int:
        """Delete the rows of every scope idle for `keep_days` (the ledger's own by default);
        returns how many rows went."""
        cutoff = time.time() - 86400 * (self.keep_days if keep_days is None else keep_days)
        with self._transaction() as db:
            gone = db.execute(
                "DELETE FROM entries WHERE scope IN (SELECT scope FROM entries GROUP BY scope "
                "HAVING MAX(created) < ?)",
                (cutoff,),
            ).rowcount
        return int(gone)

    def rows(self) -> int:
        """How many rows the ledger holds."""
        return int(self._connection().execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _spend(db: sqlite3.Connection, scope: str, states: Sequence[str]) -> Spend:
        marks = ",".join("?" for _ in states)
        usd, tokens = db.execute(
            f"SELECT COALESCE(SUM(usd), 0), COALESCE(SUM(tokens), 0) FROM entries "
            f"WHERE scope = ? AND state IN ({marks})",
            (scope, *states),
        ).fetchone()
        return Spend(float(usd), int(tokens))

    @staticmethod
    def _over(cap: Cap, spend: Spend, usd: float, tokens: int) -> BudgetExceeded | None:
        """The refusal when `spend` plus the call crosses the cap."""
        if cap.usd is not None and spend.usd + usd > cap.usd:
            return BudgetExceeded(cap.scope, "usd", cap.usd, spend.usd + usd, kind=cap.kind)
        if cap.tokens is not None and spend.tokens + tokens > cap.tokens:
            return BudgetExceeded(
                cap.scope, "tokens", cap.tokens, spend.tokens + tokens, kind=cap.kind
            )
        return None

    @staticmethod
    def _firm(db: sqlite3.Connection, scope: str, before: float) -> Spend:
        """Settled spend plus the holds made before `before` (those of calls that are gone)."""
        usd, tokens = db.execute(
            "SELECT COALESCE(SUM(usd), 0), COALESCE(SUM(tokens), 0) FROM entries WHERE scope = ? "
            "AND (state = 'settled' OR (state = 'reserved' AND created < ?))",
            (scope, before),
        ).fetchone()
        return Spend(float(usd), int(tokens))

    def reserve(self, hold: Hold) -> Reservation:
        """Hold what `hold` asks against every cap, or raise BudgetExceeded and hold nothing
        (what a drawn hold gives is already held in its scopes)."""
        caps, usd, tokens, label = hold.caps, hold.usd, hold.tokens, hold.label
        fresh_s, draw = hold.fresh_s, hold.draw
        entry = uuid.uuid4().hex
        now = time.time()
        with self._transaction() as db:
            left = self._left(db, draw)
            given = {scope: (min(usd, u), min(tokens, t)) for scope, (u, t) in left.items()}
            for cap in caps:
                held = self._spend(db, cap.scope, ("reserved", "settled"))
                taken_usd, taken_tokens = given.get(cap.scope, (0.0, 0))
                over = self._over(cap, held, usd - taken_usd, tokens - taken_tokens)
                if over is None:
                    continue
                pending = False
                if fresh_s is not None:
                    # The hold drawn on does not settle while this call waits: it is firm.
                    firm = self._firm(db, cap.scope, now - fresh_s)
                    own_usd, own_tokens = left.get(cap.scope, (0.0, 0))
                    firm = Spend(firm.usd + own_usd, firm.tokens + own_tokens)
                    pending = self._over(cap, firm, usd, tokens) is None
                    over.in_flight = firm.usd < held.usd or firm.tokens < held.tokens
                over.pending = pending
                raise over
            db.executemany(
                "UPDATE entries SET usd = usd - ?, tokens = tokens - ? WHERE id = ?",
                [(u, t, f"{draw.id}:{scope}") for scope, (u, t) in given.items() if draw],
            )
            db.executemany(
                "INSERT INTO entries VALUES (?, ?, 'reserved', ?, ?, ?, ?)",
                [(f"{entry}:{cap.scope}", cap.scope, usd, tokens, label, now) for cap in caps],
            )
        return Reservation(entry, tuple(cap.scope for cap in caps), usd, tokens)

    @staticmethod
    def _left(db: sqlite3.Connection, draw: Reservation | None) -> dict[str, tuple[float, int]]:
        """Per scope, what is left of the open hold `draw` (none when it is closed)."""
        if draw is None:
            return {}
        left: dict[str, tuple[float, int]] = {}
        for scope in draw.scopes:
            row = db.execute(
                "SELECT usd, tokens FROM entries WHERE id = ? AND state = 'reserved'",
                (f"{draw.id}:{scope}",),
            ).fetchone()
            if row is not None:
                left[scope] = (float(row[0]), int(row[1]))
        return left

    def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        """Replace the hold with what the call really cost (it may be more than reserved)."""
        self._close(reservation, "settled", usd, tokens)

    def release(self, reservation: Reservation) -> None:
        """Drop the hold: the call cost nothing (it failed before any usage was reported)."""
        self._close(reservation, "released", 0.0, 0)

    def _close(self, reservation: Reservation, state: str, usd: float, tokens: int) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE entries SET state = ?, usd = ?, tokens = ? "
                "WHERE id = ? AND state = 'reserved'",
                [(state, usd, tokens, f"{reservation.id}:{scope}") for scope in reservation.scopes],
            )

    def spent(self, scope: str) -> Spend:
        """Settled spend of a scope (a read: no write lock taken)."""
        return self._spend(self._connection(), scope, ("settled",))

    def held(self, scope: str) -> Spend:
        """Open reservations of a scope (a read: no write lock taken)."""
        return self._spend(self._connection(), scope, ("reserved",))


class SpendLedger(Protocol):
    """What a budget guard needs of a ledger: the SQLite `Ledger` (threads and processes on
    one machine), or a proxy to one held by a single owner (a Ray actor, for a cluster)."""

    def reserve(self, hold: Hold) -> Reservation: ...

    def settle(self, reservation: Reservation, usd: float, tokens: int) -> None: ...

    def release(self, reservation: Reservation) -> None: ...


class BudgetGuard:
    """Holds one model's worst case against the caps around each request, then settles it."""

    def __init__(
        self, ledger: SpendLedger, caps: Sequence[Cap], shared: Sequence[str] = ()
    ) -> None:
        """`shared`: the scopes of `caps` that other episodes hold against too (the run's),
        which an admission (`admit`) holds against."""
        self.ledger = ledger
        self.caps = tuple(caps)
        self.shared = tuple(cap for cap in self.caps if cap.scope in shared)
        self.admission: Reservation | None = None
        self._exceeded = threading.Event()
        self.refusals: list[BudgetExceeded] = []

    async def admit(self, usd: float, tokens: int, label: str, patience_s: float) -> bool:
        """Hold what an episode's calls will need at most against the shared caps before its
        first call, waiting (up to `patience_s`) for the episodes in flight to finish when
        their holds are in the way; the episode's calls then draw their holds from it.

        Under one run cap, episodes started together would otherwise share it call by call and
        all stop half done; admitted, those in flight finish and the rest wait their turn. When
        the need would not fit even once the others finish, the episode holds about what is left
        of the cap then (halving what it asks until it fits) and goes as far as that lets it.
        Returns False when nothing could be held: nothing is left, or the wait ran past
        `patience_s`."""
        if not self.shared or not (usd or tokens):
            return False
        deadline = time.monotonic() + patience_s
        pause = 0.05
        while True:
            try:
                self.admission = self.ledger.reserve(
                    Hold(self.shared, usd, tokens, label, fresh_s=patience_s)
                )
                return True
            except BudgetExceeded as refused:
                # Wait while episodes in flight hold part of the cap, even when the need would
                # not fit once they finish: what is left is known only then, and two episodes
                # let in on what is left would share it call by call and both stop half done.
                if refused.pending or refused.in_flight:
                    if time.monotonic() + pause > deadline:
                        return False
                    await asyncio.sleep(pause)
                    pause = min(2 * pause, 1.0)
                    continue
                # It would not fit even once the others settle: ask for less (half as much
                # each time: what is left once they do is held, or waited for).
                usd, tokens = usd / 2, tokens // 2
                if usd < 1e-9 and tokens == 0:
                    return False

    def close(self) -> None:
        """Give back what is left of the admission (the episode is over)."""
        if self.admission is not None:
            self.ledger.release(self.admission)
            self.admission = None

    @property
    def exceeded(self) -> bool:
        """Whether a reservation has been refused in this run."""
        return self._exceeded.is_set()

    def reserve(self, usd: float, tokens: int, label: str) -> Reservation:
        try:
            return self.ledger.reserve(Hold(self.caps, usd, tokens, label, draw=self.admission))
        except BudgetExceeded as refused:
            self._refused(refused)
            raise

    async def areserve(self, usd: float, tokens: int, label: str, patience_s: float) -> Reservation:
        """As `reserve`; a refusal that the holds of calls in flight cause waits, up to
        `patience_s`, for them to settle, and stands only if the cap is still in the way."""
        deadline = time.monotonic() + patience_s
        pause = 0.02
        while True:
            try:
                hold = Hold(self.caps, usd, tokens, label, fresh_s=patience_s, draw=self.admission)
                return self.ledger.reserve(hold)
            except BudgetExceeded as refused:
                if not refused.pending or time.monotonic() + pause > deadline:
                    self._refused(refused)
                    raise
            await asyncio.sleep(pause)
            pause = min(2 * pause, 0.5)

    def _refused(self, refused: BudgetExceeded) -> None:
        self.refusals.append(refused)
        self._exceeded.set()
