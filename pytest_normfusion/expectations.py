"""Expected failures as data: skip and xfail files, applied at collection.

A file holds one fnmatch pattern a line. A pattern matches a conformance test
when it matches its test id ``<impl>-<case id>`` (one impl) or its bare case id
(every impl). ``#`` starts a comment; an entry's reason is its inline comment,
else the comment block right above it (which covers the entries after it up to
a blank line). An entry without a reason is an error: every known failure says
why it is known.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest


class NormfusionWarning(pytest.PytestWarning):
    """A skip or xfail entry that matches no collected test."""


class ExpectationError(Exception):
    """An unreadable file or an entry without a reason; the message names file:line."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One line of a skip or xfail file."""

    kind: str  # "skip" | "xfail"
    pattern: str  # fnmatch pattern over test ids and case ids
    reason: str
    source: str  # "file:line"

    def matches(self, test_id: str, case_id: str) -> bool:
        return fnmatch.fnmatchcase(test_id, self.pattern) or fnmatch.fnmatchcase(case_id, self.pattern)

    def shown(self) -> str:
        """The reason as pytest and the certificate show it, with where it comes from."""
        return f"{self.reason} ({self.source})"


def parse(text: str, kind: str, name: str) -> list[Entry]:
    """Entries of one file's text; ``name`` is how the file is cited."""
    entries = []
    block: list[str] = []  # the comment block above the current entries
    after_entry = False  # a comment after an entry starts a new block
    for number, raw in enumerate(text.splitlines(), start=1):
        pattern, _, comment = raw.partition("#")
        pattern, comment = pattern.strip(), comment.strip()
        if not pattern:
            if not raw.strip():
                block = []
            elif comment:
                block = [comment] if after_entry else [*block, comment]
            after_entry = False
            continue
        reason = comment or " ".join(block)
        if not reason:
            raise ExpectationError(f"{name}:{number}: {kind} entry {pattern!r} has no reason; add '# why' to it")
        entries.append(Entry(kind, pattern, reason, f"{name}:{number}"))
        after_entry = True
    return entries


def load(skips: Path | None, xfails: Path | None, cwd: Path) -> list[Entry]:
    """The entries of both files, skips first (a case both skipped and xfailed is skipped).

    Entries cite their file relative to ``cwd`` when it lies below it.
    """
    entries: list[Entry] = []
    for kind, path in (("skip", skips), ("xfail", xfails)):
        if path is None:
            continue
        name = str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ExpectationError(f"cannot read the {kind} file {name}: {exc.strerror}") from None
        entries += parse(text, kind, name)
    return entries


def ids_of(item: pytest.Item) -> tuple[str, str] | None:
    """(test id ``<impl>-<case id>``, case id) of a conformance test, None for any other test."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "nf_candidate" not in callspec.params:
        return None
    impl = callspec.params["nf_candidate"].name
    return callspec.id, callspec.id.removeprefix(f"{impl}-")


def apply(items: Iterable[pytest.Item], entries: list[Entry], strict: bool) -> tuple[dict[pytest.Item, Entry], Counter]:
    """Mark every item the first matching entry names; returns the matches and hits per entry."""
    matched: dict[pytest.Item, Entry] = {}
    hits: Counter[Entry] = Counter()
    for item in items:
        ids = ids_of(item)
        entry = None if ids is None else next((e for e in entries if e.matches(*ids)), None)
        if entry is None:
            continue
        matched[item] = entry
        hits[entry] += 1
        if entry.kind == "skip":
            item.add_marker(pytest.mark.skip(reason=entry.shown()))
        else:
            item.add_marker(pytest.mark.xfail(reason=entry.shown(), strict=strict))
    return matched, hits


def as_data(entry: Entry) -> dict[str, Any]:
    """The entry as the record and the certificate carry it."""
    return dataclasses.asdict(entry)


def unmatched_warning(entry: Entry) -> str:
    return f"{entry.source}: {entry.kind} entry {entry.pattern!r} matches no collected test; remove it if it is stale"
