"""Scenario variants: the same break with other names, labels and ports, per learner or per seed.

A scenario's files keep today's values literal (``manifests.yaml`` stays a real manifest that
``kubectl apply -f`` takes unchanged on kind), and its ``spec.yaml`` declares which of those values may
vary, as a map from the literal token to its alternatives::

    vary:
      web: [catalog, cart, search]     # the Deployment/Service/label/container name
      '3000': [5000, 8000, 9000]       # where the app really listens

A variant is a number ``k``: ``0`` is the default (the files as they are, so committed notebook outputs
and goldens do not move); any other ``k`` picks one alternative per token, deterministically from
(scenario, k), all distinct from each other and from the other tokens' defaults. Rendering replaces each
*whole* token (not inside a longer name or number: ``web`` but not ``WEB_URL`` or ``webhook``, ``80`` but
not ``8080``) in every text file of the scenario at once, so manifests, learner text, hints with their
commands, ``diagnose`` look/evidence/nudges, the reference fix and the checks' parameters all follow the
same values.

Why whole-token substitution of literal defaults rather than ``{placeholders}``: the default files stay
valid, readable manifests (a learner who opens ``manifests.yaml`` sees YAML that applies), and the
default variant is byte-for-byte today's text without a render step to get wrong. The price is that a
varied token must mean one thing wherever it appears in the scenario's files; the unit tests check that no
alternative collides with another word in them and that no default survives rendering.

A workshop learner's variant is derived from (scenario, learner id), so it is stable across processes,
``create`` and ``reset``; the chosen ``k`` is recorded on the scenario's Namespace as an opaque token
(``v<k>``, next to the mystery's ``case-...``) so a later process (another kernel, the CLI) uses the
same values.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from typing import Any

Values = dict[str, str]  # default token -> this variant's token

# characters that continue a token: a varied ``web`` is not replaced inside ``web-frontend``, ``WEB_URL`` or
# ``webhook``; ``80`` not inside ``8080``. Dots, slashes, colons, quotes and ``=`` end a token, so ``web`` in
# ``http://web.ns:8080/`` or ``deploy/web`` and ``8080`` in ``--http-port=8080`` are replaced.
_WORD = "A-Za-z0-9_-"
KEY_SPACE = 9999  # learner variants are 1..KEY_SPACE


def parse(spec_vary: Any) -> dict[str, tuple[str, ...]]:
    """``spec.yaml``'s ``vary`` map as token -> alternatives (strings; the default itself dropped)."""
    if not spec_vary:
        return {}
    if not isinstance(spec_vary, Mapping):
        raise ValueError("vary: must map each literal token to a list of alternatives")
    out: dict[str, tuple[str, ...]] = {}
    for tok, alts in spec_vary.items():
        if not isinstance(alts, list | tuple) or not alts:
            raise ValueError(f"vary: {tok!r} needs a non-empty list of alternatives")
        out[str(tok)] = tuple(dict.fromkeys(str(a) for a in alts if str(a) != str(tok)))
    return out


def values(scenario: str, k: int, table: Mapping[str, tuple[str, ...]]) -> Values:
    """The tokens of variant ``k`` of ``scenario`` (``{}`` for the default, k == 0).

    Deterministic across processes (``random.Random`` seeded with a string hashes it with SHA-512, not with
    Python's per-process hash). Each token gets an alternative not already taken and not another token's
    default, so two roles never merge into one value. Each token draws from its own generator, so a token
    with the same alternatives gets the same value in every scenario drawn under one name: the mystery draws
    its breaks' values under its own name, and its app is called the same whichever break runs."""
    if k == 0 or not table:
        return {}
    taken = set(table)
    out: Values = {}
    for tok in sorted(table):
        free = [a for a in table[tok] if a not in taken]
        if not free:
            raise ValueError(f"vary: no alternative left for {tok!r} in {scenario}")
        pick = random.Random(f"kai-labs vary {scenario} {k} {tok}").choice(free)
        out[tok] = pick
        taken.add(pick)
    return out


def render(text: str, vals: Mapping[str, str]) -> str:
    """``text`` with every whole token of ``vals`` replaced, all in one pass (so 3000->8080 and 8080->9000
    never chain)."""
    if not vals:
        return text
    alt = "|".join(re.escape(t) for t in sorted(vals, key=len, reverse=True))
    pattern = re.compile(rf"(?<![{_WORD}])(?:{alt})(?![{_WORD}])")
    return pattern.sub(lambda m: vals[m.group(0)], text)


def learner_key(scenario: str, learner_id: str) -> int:
    """The variant of ``scenario`` for ``learner_id``: stable (SHA-256 of both), never the default."""
    digest = hashlib.sha256(f"kai-labs vary {scenario} {learner_id}".encode()).digest()
    return 1 + int.from_bytes(digest[:4], "big") % KEY_SPACE


def seed_key(seed: int) -> int:
    """The variant an explicit seed asks for: ``0`` is the default, any other seed a varied one."""
    if seed < 0:
        raise ValueError(f"a variant seed is a number from 0 (the default values) up, not {seed}")
    return 0 if seed == 0 else 1 + (seed - 1) % KEY_SPACE


def encode(case: str | None, k: int) -> str | None:
    """The Namespace annotation's value: the mystery's opaque case id and/or ``v<k>`` (None: nothing to
    record, which keeps the default variant's Namespace exactly as before)."""
    parts = ([case] if case else []) + ([f"v{k}"] if k else [])
    return " ".join(parts) or None


def decode(value: str | None) -> tuple[str | None, int]:
    """(the mystery's case id or None, the values variant k) from the annotation's value."""
    case, k = None, 0
    for part in (value or "").split():
        if part.startswith("v") and part[1:].isdigit():
            k = int(part[1:])
        else:
            case = part
    return case, k
