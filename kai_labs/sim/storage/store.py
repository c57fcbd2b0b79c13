"""Object storage: SQLite in WAL mode behind an in-memory index, one resourceVersion.

k3s keeps Kubernetes objects in SQLite through kine; we do the same in miniature.
Every object write is its own SQLite transaction, committed before the object is
put in memory or any watcher hears of it, as etcd commits a revision before
kube-apiserver's watch cache sees it. So a write refused by the disk (SQLITE_FULL)
or any other SQLite error is rolled back and never seen: not in a list, not in a
watch, not after a restart; and a process killed with SIGKILL loses nothing it
acknowledged (WAL + ``synchronous=NORMAL``: the commit is in the WAL file before
``commit()`` returns; only an OS crash could drop the last transactions, see
ARCHITECTURE.md).

A refusal leaves nothing behind to trip over: the transaction is rolled back (or
found to have landed after all), the connection stays usable, and the next write
simply tries again, so writes work again as soon as there is room, without a
restart. ``health()`` is the API server's etcd check meanwhile.

At start the store refuses, with one sentence (``StoreError``), a damaged
database, and a write-ahead log that lost committed writes: SQLite drops WAL
frames from the first bad one on without a word, so the resourceVersion of every
commit is also noted in a small side file (``state.db-rv``) and compared.

The whole object set is also kept in memory (the apiserver's watch cache plays
this role in Kubernetes), so reads never touch the disk. Watchers get events in
resourceVersion order from a bounded history, like the watch cache's window.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import sqlite3
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..apimachinery import errors

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


def decode(data: str | bytes) -> Any:
    """JSON as the store reads it (orjson where it can: a quarter less memory per decoded object than the
    standard library, as its keys are shared between objects, and several times faster)."""
    return _loads(data)


def encode(obj: Any) -> str:
    """JSON as the store writes it (orjson where it can)."""
    return _dumps(obj)


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
    """An event kept for resuming watches, serialized and compressed so old versions cost little memory
    (5,000 Pod versions are ~17 MB as JSON text, ~4 MB compressed; only a resuming watch reads them)."""

    rv: int
    type: str
    key: str
    data: bytes

    def event(self) -> Event:
        return Event(self.rv, self.type, self.key, _loads(zlib.decompress(self.data)))


class TooOld(Exception):
    """A watch asked for a resourceVersion older than the kept history."""


class StoreError(Exception):
    """The store cannot be opened as it is on disk: one sentence, for the process to print instead of a
    traceback. ``reset`` says whether `kai-labs cluster reset` (a new, empty cluster) is the way out; when
    False the sentence says what is (free some disk space)."""

    def __init__(self, message: str, reset: bool) -> None:
        super().__init__(message)
        self.reset = reset


# SQLite's primary result codes (sqlite3.h)
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_IOERR, SQLITE_NOTADB = 11, 13, 10, 26
PROBE_ROW = "health/probe"
PROBE_BYTES = 8192  # the health probe's row: it needs new pages (two overflow pages), as an object write does
NOTE_SUFFIX = "-rv"  # state.db-rv: the resourceVersion of the last commit, fixed width, rewritten in place


def _primary(e: sqlite3.Error) -> int | None:
    code = getattr(e, "sqlite_errorcode", None)  # Python >= 3.11; 3.10 has only the text
    return code & 0xFF if isinstance(code, int) else None


def _no_room(e: sqlite3.Error, directory: str) -> bool:
    """SQLITE_FULL (the disk, or the page limit), or an I/O error on a filesystem with no room left (the
    WAL index growing on a full tmpfs is SQLITE_IOERR_SHMSIZE, not SQLITE_FULL)."""
    code, text = _primary(e), str(e)
    if code == SQLITE_FULL or "database or disk is full" in text:
        return True
    if code == SQLITE_IOERR or "disk I/O error" in text:
        try:
            st = os.statvfs(directory)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < 1 << 20
    return False


def _damaged(e: sqlite3.Error) -> bool:
    code = _primary(e)
    if code is not None:
        return code in (SQLITE_CORRUPT, SQLITE_NOTADB)
    return "malformed" in str(e) or "not a database" in str(e)


Statements = tuple[tuple[str, tuple[Any, ...]], ...]

# An update rewrites its row in place: one page per commit, where INSERT OR REPLACE (a delete and an
# insert under a new rowid, and the key's index entry) wrote three. This is what keeps a commit per
# write as cheap as the group commit of several writes was.
UPSERT = ("INSERT INTO objects (key, ns, name, rv, data) VALUES (?, ?, ?, ?, ?)"
          " ON CONFLICT (key, ns, name) DO UPDATE SET rv=excluded.rv, data=excluded.data")


class Store:
    # While writes fail, the health check probes with a real write at most this often and answers its
    # last result in between, as kube-apiserver's etcd check does (a probe per timeout/2 = 1 s;
    # staging/src/k8s.io/apiserver/pkg/storage/storagebackend/factory/etcd3.go, newETCD3Check).
    probe_every = 1.0

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.home = os.path.dirname(os.path.abspath(self.path))
        # key -> namespace -> name -> object ("" is the namespace of cluster-scoped objects)
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}
        self.rv = 0  # the resourceVersion of the last commit: it only moves when a write commits
        self.history: deque[_Past] = deque(maxlen=HISTORY)
        self.on_dirty: Callable[[], None] = lambda: None
        self._listeners: list[Callable[[Event], None]] = []
        self.failure: str | None = None  # why the last write could not commit; None once one does
        self._probed = 0.0
        self._note_fd = -1
        self.closed = False  # after close(): a handler still finishing gets 503, never a traceback
        self._note_failed = False
        self._note_path = "" if self.path == ":memory:" else self.path + NOTE_SUFFIX
        noted = self._read_note()
        if noted and not os.path.exists(self.path):
            raise StoreError(f"the cluster's store {self.path} is missing (it held {noted} writes)", reset=True)
        db: sqlite3.Connection | None = None
        try:
            self.db = db = self._connect()
            self._load()
        except sqlite3.Error as e:
            if db is not None:
                db.close()
            if _no_room(e, self.home):
                raise StoreError(errors.disk_full(self.home).message, reset=False) from None
            if _damaged(e) or type(e) is sqlite3.DatabaseError:
                raise StoreError(f"the cluster's store {self.path} is damaged ({e})", reset=True) from None
            raise StoreError(f"the cluster's store {self.path} cannot be opened ({e})", reset=False) from None
        except ValueError as e:  # a row whose data is not JSON
            self.db.close()
            raise StoreError(f"the cluster's store {self.path} is damaged (an object is not JSON: {e})",
                             reset=True) from None
        if noted > self.rv:
            self.db.close()
            raise StoreError(f"the cluster's store {self.path} lost its last {noted - self.rv} writes "
                             f"(its write-ahead log {self.path}-wal is missing or damaged)", reset=True)
        self.oldest_rv = self.rv  # watches may resume from here on
        self._open_note()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _load(self) -> None:
        db = self.db
        # a damaged page or index is found now, in one sentence, rather than by some later write
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(str(verdict).splitlines()[0])
        db.execute(
            "CREATE TABLE IF NOT EXISTS objects (key TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
            " rv INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (key, ns, name))"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        for key, ns, name, rv, data in db.execute("SELECT key, ns, name, rv, data FROM objects"):
            self._objects.setdefault(key, {}).setdefault(ns, {})[name] = _loads(data)
            self.rv = max(self.rv, rv)
        row = db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        if row:
            self.rv = max(self.rv, int(row[0]))

    # -- the rv note (state.db-rv) ----------------------------------------------
    def _read_note(self) -> int:
        if not self._note_path:
            return 0
        try:
            with open(self._note_path, "rb") as f:
                return int(f.read(64).strip() or b"0")
        except (OSError, ValueError):  # none yet (a home from before the note), or unreadable: no check
            return 0

    def _open_note(self) -> None:
        if not self._note_path:
            return
        try:
            self._note_fd = os.open(self._note_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            log.warning("cannot keep %s (%s): a lost write-ahead log would go unnoticed", self._note_path, e)
            return
        self._note()

    def _note(self) -> None:
        """Record the last committed rv after each commit (no fsync, like the WAL under synchronous=NORMAL).
        Fixed width and rewritten in place, so it needs no new disk blocks once written."""
        if self._note_fd < 0:
            return
        try:
            os.pwrite(self._note_fd, b"%020d\n" % self.rv, 0)
        except OSError as e:
            if not self._note_failed:  # once, not at every write
                log.warning("cannot update %s (%s): a lost write-ahead log may go unnoticed", self._note_path, e)
            self._note_failed = True
        else:
            self._note_failed = False

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
        try:
            row = self.db.execute("SELECT v FROM meta WHERE k=?", (k,)).fetchone()
        except sqlite3.Error as e:
            raise errors.storage_failed(f"the cluster's store could not be read: {e}") from None
        return row[0] if row else None

    def meta_set(self, k: str, v: str) -> None:
        """Allocator counters and the seed: they ride in the open transaction and commit with the next
        object write (or at flush), so an object and the counter that named it commit or fail together."""
        try:
            if not self.db.in_transaction:
                self.db.execute("BEGIN")
                self.on_dirty()
            self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (k, v))
        except sqlite3.Error as e:
            self._abort()
            raise self._refused(e) from None

    # -- writing -----------------------------------------------------------
    def put(self, key: str, obj: Obj, event_type: str) -> Obj:
        """Store a new version (ADDED or MODIFIED); sets metadata.resourceVersion. Committed before it is
        visible; a refusal raises errors.DiskFull (or another 500) and leaves everything as it was."""
        md = obj["metadata"]
        ns, name = md.get("namespace", ""), md["name"]
        rv = self.rv + 1
        had = md.get("resourceVersion")
        md["resourceVersion"] = str(rv)
        data = _dumps(obj)
        try:
            self._commit(rv, ((UPSERT, (key, ns, name, rv, data)),), lambda: self._row_rv(key, ns, name) == rv)
        except errors.ApiError:
            if had is None:
                md.pop("resourceVersion", None)
            else:
                md["resourceVersion"] = had
            raise
        stored = _loads(data)
        self._objects.setdefault(key, {}).setdefault(ns, {})[name] = stored
        self._emit(Event(rv, event_type, key, stored), data)
        out: Obj = _loads(data)
        return out

    def remove(self, key: str, ns: str, name: str) -> Obj | None:
        space = self._objects.get(key, {}).get(ns, {})
        cur = space.get(name)
        if cur is None:
            return None
        rv = self.rv + 1
        self._commit(rv, (("DELETE FROM objects WHERE key=? AND ns=? AND name=?", (key, ns, name)),
                          ("INSERT OR REPLACE INTO meta (k, v) VALUES ('rv', ?)", (str(rv),))),
                     lambda: self._row_rv(key, ns, name) is None)
        del space[name]
        if not space:
            self._objects[key].pop(ns, None)
        old = clone(cur)
        old["metadata"]["resourceVersion"] = str(rv)
        self._emit(Event(rv, "DELETED", key, old), None)
        return old

    def _row_rv(self, key: str, ns: str, name: str) -> int | None:
        row = self.db.execute("SELECT rv FROM objects WHERE key=? AND ns=? AND name=?", (key, ns, name)).fetchone()
        return int(row[0]) if row else None

    def _commit(self, rv: int, statements: Statements, landed: Callable[[], bool]) -> None:
        """Run statements in one transaction (joining pending counters) and commit it, or roll it back
        and raise the API error to answer. ``landed`` tells, after an error, whether the write is in the
        database all the same (SQLite can report an error after the commit frame reached the log); then
        it counts as done, so memory never disagrees with the file."""
        if self.closed:
            raise errors.shutting_down()
        try:
            if len(statements) == 1 and not self.db.in_transaction:
                self.db.execute(*statements[0])  # a statement outside a transaction is one (and cheaper)
            else:
                if not self.db.in_transaction:
                    self.db.execute("BEGIN")
                for sql, args in statements:
                    self.db.execute(sql, args)
                self.db.execute("COMMIT")
        except sqlite3.Error as e:
            self._abort()
            try:
                done = landed()
            except sqlite3.Error:
                done = False
            if not done:
                raise self._refused(e) from None
            log.warning("SQLite reported %s, yet the write of rv %d is in the database: kept", e, rv)
        self.rv = rv
        self._note()
        if self.failure is not None:
            self._recovered()

    def _abort(self) -> None:
        """Leave no transaction open after an error. SQLite rolls back by itself after some errors (a
        failed COMMIT for a full disk does): the transaction state is asked, never assumed."""
        if self.closed or not self.db.in_transaction:
            return
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error as e:
            log.warning("ROLLBACK failed (%s): reopening %s", e, self.path)
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
            try:
                self.db = self._connect()
            except sqlite3.Error as e2:
                log.warning("cannot reopen %s: %s", self.path, e2)

    def failed(self, e: sqlite3.Error) -> errors.ApiError:
        """For code that ran a statement on ``db`` itself and got an error: roll back what is pending,
        note the failure for ``health``, and return the Status to answer."""
        if self.closed:
            return errors.shutting_down()
        self._abort()
        return self._refused(e)

    def _refused(self, e: sqlite3.Error) -> errors.ApiError:
        err = errors.disk_full(self.home) if _no_room(e, self.home) else \
            errors.storage_failed(f"the cluster's store could not write: {e}")
        if self.failure != err.message:
            log.warning("writes are refused: %s (SQLite: %s)", err.message, e)
        self.failure = err.message
        self._probed = time.monotonic()  # this write was a probe too
        return err

    def _recovered(self) -> None:
        log.warning("writes commit again (after: %s)", self.failure)
        self.failure = None

    # -- group commit of counters ----------------------------------------------
    def flush(self) -> None:
        """Commit what meta_set left pending (counters no object write took along). The API server calls
        this before it answers; object writes are already committed by then. Never raises: a refusal
        here loses counters only, which nothing acknowledged depends on."""
        if self.closed or not self.db.in_transaction:
            return
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            self._abort()
            self._refused(e)
            return
        if self.failure is not None:
            self._recovered()

    def health(self) -> str | None:
        """The API server's etcd check: None when writes commit, else why they do not. While they fail,
        a real write (a row that needs new pages, removed again) probes whether there is room now."""
        if self.failure is None:
            return None
        now = time.monotonic()
        if now - self._probed < self.probe_every:
            return self.failure
        self._probed = now
        try:
            if not self.db.in_transaction:
                self.db.execute("BEGIN")
            self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (PROBE_ROW, "." * PROBE_BYTES))
            self.db.execute("DELETE FROM meta WHERE k=?", (PROBE_ROW,))
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            self._abort()
            self._refused(e)
            return self.failure
        self._recovered()
        return None

    def wipe(self) -> None:
        self._commit(self.rv, (("DELETE FROM objects", ()),
                               ("INSERT OR REPLACE INTO meta (k, v) VALUES ('rv', ?)", (str(self.rv),))),
                     lambda: self.db.execute("SELECT count(*) FROM objects").fetchone()[0] == 0)
        self._objects.clear()

    # -- watching ----------------------------------------------------------
    def _emit(self, ev: Event, data: str | None) -> None:
        if len(self.history) == self.history.maxlen:
            self.oldest_rv = self.history[0].rv
        text = data if data is not None else _dumps(ev.obj)
        self.history.append(_Past(ev.rv, ev.type, ev.key, zlib.compress(text.encode(), 1)))
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
        with contextlib.suppress(sqlite3.Error):  # closing twice is calm
            self.flush()
            self.db.close()
        self.closed = True
        if self._note_fd >= 0:
            os.close(self._note_fd)
            self._note_fd = -1
