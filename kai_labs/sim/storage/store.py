"""Object storage: SQLite in WAL mode behind an in-memory index, one resourceVersion.

k3s keeps Kubernetes objects in SQLite through kine; we do the same in miniature.
Every write is its own committed transaction before the API answers, so a process
killed with SIGKILL loses nothing it acknowledged (WAL + ``synchronous=NORMAL``:
the commit is in the WAL file before ``commit()`` returns; only an OS crash could
drop the last transactions, see ARCHITECTURE.md).

The whole object set is also kept in memory (the apiserver's watch cache plays
this role in Kubernetes), so reads never touch the disk. Watchers get events in
resourceVersion order from a bounded history, like the watch cache's window.
"""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Obj = dict[str, Any]


try:  # orjson is several times faster; the stdlib is the fallback
    import orjson

    def _dumps(obj: Any) -> str:
        try:
            return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
        except (TypeError, OverflowError):
            # lone surrogates ("\ud800": Go's decoder turns each into U+FFFD, so do we) or integers
            # beyond 64 bits (orjson's limit): the stdlib encoder takes what is left
            return json.dumps(_scrub(obj), separators=(",", ":"), ensure_ascii=False)

    def _loads(data: str | bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return json.loads(data)
except ImportError:  # pragma: no cover - orjson is a dependency, but keep working without it
    def _dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))

    def _loads(data: str | bytes) -> Any:
        return json.loads(data)


def _scrub(v: Any) -> Any:
    if isinstance(v, str):
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in v)
    if isinstance(v, dict):
        return {_scrub(k): _scrub(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_scrub(x) for x in v]
    return v


def clone(obj: Obj) -> Obj:
    """A deep copy of a JSON-shaped object (several times faster than copy.deepcopy)."""
    out: Obj = _loads(_dumps(obj))
    return out

log = logging.getLogger("kai_labs.store")

HISTORY = 5_000  # events kept for watches that resume from a resourceVersion (the watch cache's window)


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: str  # storage key, e.g. "/pods" or "apps/deployments"
    obj: Obj


@dataclass(frozen=True)
class _Past:
    """An event kept for resuming watches, serialized so old versions cost little memory."""

    rv: int
    type: str
    key: str
    data: str

    def event(self) -> Event:
        return Event(self.rv, self.type, self.key, _loads(self.data))


class TooOld(Exception):
    """A watch asked for a resourceVersion older than the kept history."""


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS objects (key TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
            " rv INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (key, ns, name))"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        # key -> namespace -> name -> object ("" is the namespace of cluster-scoped objects)
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}
        self.rv = 0
        for key, ns, name, rv, data in self.db.execute("SELECT key, ns, name, rv, data FROM objects"):
            self._objects.setdefault(key, {}).setdefault(ns, {})[name] = _loads(data)
            self.rv = max(self.rv, rv)
        row = self.db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        if row:
            self.rv = max(self.rv, int(row[0]))
        self.history: deque[_Past] = deque(maxlen=HISTORY)
        self._in_tx = False  # a write transaction is open (group commit, see flush)
        self.on_dirty: Callable[[], None] = lambda: None
        self.oldest_rv = self.rv  # watches may resume from here on
        self._listeners: list[Callable[[Event], None]] = []

    # -- reading -----------------------------------------------------------
    def get(self, key: str, ns: str, name: str) -> Obj | None:
        obj = self._objects.get(key, {}).get(ns, {}).get(name)
        return clone(obj) if obj is not None else None

    def peek(self, key: str, ns: str, name: str) -> Obj | None:
        """Like get, without copying: the caller must not mutate the result."""
        return self._objects.get(key, {}).get(ns, {}).get(name)

    def iter(self, key: str, ns: str | None = None) -> Iterator[Obj]:
        """Objects of a key in (namespace, name) order, uncopied (read-only)."""
        spaces = self._objects.get(key, {})
        for n in ([ns] if ns is not None else sorted(spaces)):
            items = spaces.get(n, {})
            for name in sorted(items):
                yield items[name]

    def scan(self, key: str, ns: str | None = None) -> Iterator[Obj]:
        """Like iter, in no particular order (for controllers' hot paths), uncopied."""
        spaces = self._objects.get(key, {})
        if ns is not None:
            yield from list(spaces.get(ns, {}).values())
            return
        for items in list(spaces.values()):
            yield from list(items.values())

    def list(self, key: str, ns: str | None = None) -> list[Obj]:
        return [clone(o) for o in self.iter(key, ns)]

    def count_ns(self, key: str, ns: str) -> int:
        return len(self._objects.get(key, {}).get(ns, {}))

    def count(self, key: str) -> int:
        return sum(len(v) for v in self._objects.get(key, {}).values())

    def meta_get(self, k: str) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k=?", (k,)).fetchone()
        return row[0] if row else None

    def meta_set(self, k: str, v: str) -> None:
        self._begin()
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (k, v))

    # -- writing -----------------------------------------------------------
    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, key: str, obj: Obj, event_type: str) -> Obj:
        """Store a new version (ADDED or MODIFIED); sets metadata.resourceVersion."""
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        rv = self._next_rv()
        md["resourceVersion"] = str(rv)
        data = _dumps(obj)
        self._begin()
        self.db.execute(
            "INSERT OR REPLACE INTO objects (key, ns, name, rv, data) VALUES (?, ?, ?, ?, ?)",
            (key, ns, name, rv, data),
        )
        stored = _loads(data)
        self._objects.setdefault(key, {}).setdefault(ns, {})[name] = stored
        self._emit(Event(rv, event_type, key, stored), data)
        out: Obj = _loads(data)
        return out

    def remove(self, key: str, ns: str, name: str) -> Obj | None:
        space = self._objects.get(key, {}).get(ns, {})
        old = space.pop(name, None)
        if old is None:
            return None
        if not space:
            self._objects[key].pop(ns, None)
        rv = self._next_rv()
        old = clone(old)
        old["metadata"]["resourceVersion"] = str(rv)
        self._begin()
        self.db.execute("DELETE FROM objects WHERE key=? AND ns=? AND name=?", (key, ns, name))
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('rv', ?)", (str(rv),))
        self._emit(Event(rv, "DELETED", key, old), None)
        return old

    # -- group commit --------------------------------------------------------
    def _begin(self) -> None:
        if not self._in_tx:
            self.db.execute("BEGIN")
            self._in_tx = True
            self.on_dirty()

    def flush(self) -> None:
        """Commit every write made so far. The API server calls this before it answers a write, so
        nothing it acknowledged can be lost; controller writes in between share one commit."""
        if self._in_tx:
            self.db.execute("COMMIT")
            self._in_tx = False

    def wipe(self) -> None:
        self._begin()
        self.db.execute("DELETE FROM objects")
        self.flush()
        self._objects.clear()

    # -- watching ----------------------------------------------------------
    def _emit(self, ev: Event, data: str | None) -> None:
        if len(self.history) == self.history.maxlen:
            self.oldest_rv = self.history[0].rv
        self.history.append(_Past(ev.rv, ev.type, ev.key, data if data is not None else _dumps(ev.obj)))
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # one broken listener must not starve the others (or the writer)
                log.exception("store listener failed on %s %s", ev.type, ev.key)

    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        self._listeners.append(fn)

        def cancel() -> None:
            if fn in self._listeners:
                self._listeners.remove(fn)

        return cancel

    def since(self, rv: int) -> builtins.list[Event]:
        """Events after rv; raises TooOld when the history no longer reaches back."""
        if rv < self.oldest_rv:
            raise TooOld(rv)
        return [e.event() for e in self.history if e.rv > rv]

    def close(self) -> None:
        try:
            self.flush()
            self.db.close()
        except sqlite3.Error:
            pass
