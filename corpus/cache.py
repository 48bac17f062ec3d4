"""The one on-disk cache: a SQLite key-value store shared by the LLM and embedding layers.

SQLite's journal makes every put atomic, so a run killed at any point (kill -9
included) leaves a cache that a rerun resumes from. Keys are sha256 digests of
everything that determines the value.
"""

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


def cache_key(*parts: Any) -> str:
    """A stable digest of JSON-serialisable parts (dict keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class KeyValueCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit stays atomic and survives kill -9 (only a power cut can
        # lose the last commits, which a rerun redoes); FULL fsyncs every put, which took
        # 1.5 ms under the lock and capped a concurrent run's request rate (bench.load_bench).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB)")
        self._db.commit()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, value FROM kv WHERE key IN ({marks})", chunk)
                found.update((k, bytes(v)) for k, v in rows)
        return found

    def put_many(self, items: dict[str, bytes]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", list(items.items())
            )
            self._db.commit()

    def put(self, key: str, value: bytes) -> None:
        self.put_many({key: value})

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM kv").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
