"""Secrets kept out of the snapshot, whatever Graph sent.

A recovery key's value is never asked for (``endpoints``), and an encrypted OMA-URI value is
never decrypted (``getOmaSettingPlainTextValue`` is never called); should either arrive anyway,
it is dropped here and the manifest says so. Every other string has its recovery passwords
masked (``errors.redact``), as everything the project writes does: a password typed into a
description or a device name never reaches a file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import may_hold_password, redact
from ..importers.imported import SECRET_FIELDS, is_secret_field

# A secret's name as a key shows as the quoted name in casefolded text (casefolding maps character
# by character, so a key that folds to a secret name shows as that name between quotes).
_QUOTED_SECRETS = tuple(f'"{name}"' for name in sorted(SECRET_FIELDS))

# Notes the scrubbing makes: (JSON path inside the record, what was done).
Note = Callable[[str, str], None]


def scrubbed(record: Any, note: Note, path: str = "$") -> Any:
    """``record`` with secret-named fields and encrypted OMA values dropped, passwords masked."""
    if isinstance(record, dict):
        if record.get("isEncrypted") is True and "value" in record:
            note(f"{path}.value", "an encrypted OMA-URI value; not kept (never decrypted)")
            record = {k: v for k, v in record.items() if k != "value"}
        kept = {}
        for key, value in record.items():
            if is_secret_field(key) and value is not None:
                note(f"{path}.{key}", "a recovery secret; not kept")
                continue
            kept[key] = scrubbed(value, note, f"{path}.{key}")
        return kept
    if isinstance(record, list):
        return [scrubbed(item, note, f"{path}[{n}]") for n, item in enumerate(record)]
    if isinstance(record, str):
        masked = redact(record)
        if masked != record:
            note(path, "a recovery password in the text; masked")
        return str(masked)
    return record


def is_clean(text: str) -> bool:
    """Whether nothing in the JSON text ``text`` is what ``scrubbed`` changes: no key named as a
    secret, no encrypted OMA value, no string that could hold a recovery password. Most records,
    and most pages of them, take only this scan.

    Any spacing is allowed. It errs one way only: a ``\\u`` escape (which could spell a secret's
    name) and a secret's name between quotes anywhere, a key or not, send the text to the scrub;
    every string of a record is a stretch of its text, escapes included, and ``may_hold_password``
    of a text is true where it is true of any stretch of it."""
    if ("\\" in text and "\\u" in text) or may_hold_password(text):  # one character is the faster scan
        return False
    folded = text.casefold()
    if '"isencrypted"' in folded and '"value"' in folded:
        return False
    # Every secret name ends in "key" or "password" (a test holds SECRET_FIELDS to it): two scans
    # rule out most texts. Written out, not as any(): this runs for every record.
    if 'key"' not in folded and 'password"' not in folded:
        return True
    return not any(name in folded for name in _QUOTED_SECRETS)
