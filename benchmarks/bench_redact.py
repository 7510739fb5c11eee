"""Benchmark: ``errors.redact`` on 1 MB texts, with and without recovery passwords.

    python benchmarks/bench_redact.py [--size 1000000] [--repeat 7] [--seed N]

What it does (see benchmarks/README.md, section ``bench_redact.py``):

1. Builds, untimed, texts of ``--size`` characters the way the tool's outputs look: ASCII
   report lines, fleet JSON Lines, an HTML report (entities, ``<wbr>``, ``&#x27;``), a JSON
   report with escapes (Windows paths, ``\\n``), fleet table rows with four six-digit counts
   (every row passes the pre-check), text in Japanese and in Arabic with Arabic-Indic digits;
   each once without and once with 100 passwords in mixed spellings (dashes, none, spaces,
   en dash, Arabic-Indic digits, ``\\u002d`` escapes) written over it, evenly apart.
2. Checks that every planted password is masked and that a text without one comes back
   unchanged (exit code 1 otherwise).
3. Times, round-robin over ``--repeat`` passes with the garbage collector off: ``redact``;
   its pre-check ``may_hold_password`` alone; the floor, one ``bytes.translate`` and one
   ``in`` over the text's UTF-8 bytes (what the pre-check costs at the least); and the
   previous pattern (eight groups joined by ``-``, a space or nothing) as a reference.
   Prints the median in milliseconds, nanoseconds per character and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bitlocker_rules.errors import SECRET_MASK, may_hold_password, redact

_PREVIOUS = re.compile(r"(?<!\d)\d{6}(?:[- ]?\d{6}){7}(?!\d)")
_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _password(rng: random.Random) -> tuple[str, str]:
    """A password in a random spelling, and its 48 ASCII digits."""
    groups = [f"{rng.randrange(10**6):06d}" for _ in range(8)]
    spelling = rng.choice(["-", "", " ", "\u2013", "arabic", "\\u002d"])
    text = "-".join(groups).translate(_ARABIC) if spelling == "arabic" else spelling.join(groups)
    return text, "".join(groups)


def _count(rng: random.Random) -> int:
    """A six-digit count that is no block of a password (a multiple of 11 is one in eleven)."""
    count = rng.randrange(10**5, 10**6)
    return count if count % 11 else count + 1


def _filled(line, size: int, rng: random.Random) -> str:
    parts, length = [], 0
    while length < size:
        parts.append(line(rng))
        length += len(parts[-1])
    return "".join(parts)[:size]


def _texts(size: int, rng: random.Random) -> dict[str, str]:
    return {
        "ASCII report lines": _filled(
            lambda r: (
                f"  - device PC-{r.randrange(10**4):04d} build 10.0.19045."
                f"{r.randrange(5000)} TPM 2.0: {r.choice(['pass', 'fail'])}\n"
            ),
            size,
            rng,
        ),
        "fleet JSON Lines": _filled(
            lambda r: (
                json.dumps(
                    {
                        "row": r.randrange(10**5),
                        "device": f"PC-{r.randrange(10**4)}",
                        "summary": {"pass": r.randrange(70), "fail": r.randrange(7)},
                        "results": [{"rule": "SE-05", "status": "fail"}],
                    }
                )
                + "\n"
            ),
            size,
            rng,
        ),
        "HTML report": _filled(
            lambda r: (
                f"<tr><td><code>device.<wbr>os_<wbr>version</code></td><td>&#x27;PC&#x27; "
                f"&amp; 10.0.{r.randrange(20000, 23000)}</td></tr>\n"
            ),
            size,
            rng,
        ),
        "JSON with escapes": _filled(
            lambda r: (
                json.dumps({"source": f"C:\\exports\\pc{r.randrange(999)}.json", "text": "line one\nline two"}) + ",\n"
            ),
            size,
            rng,
        ),
        "fleet table rows, six-digit counts": _filled(
            lambda r: (
                f"SE-{r.randrange(100):02d}  error  "
                + "  ".join(str(_count(r)) for _ in range(4))
                + "  The TPM is ready for use\n"
            ),
            size,
            rng,
        ),
        "Japanese": _filled(lambda r: "デバイス名 ポリシーの設定 暗号化 ", size, rng),
        "Arabic, Arabic-Indic digits": _filled(
            lambda r: f"جهاز {r.randrange(999):03d} سياسة ".translate(_ARABIC), size, rng
        ),
    }


def _planted(text: str, rng: random.Random, count: int = 100) -> tuple[str, list[str]]:
    """``text`` with ``count`` passwords written over it, evenly apart, in a text of the same size."""
    pieces, digits, last = [], [], 0
    for cut in range(len(text) // count // 2, len(text), len(text) // count):
        password, plain = _password(rng)
        pieces += [text[last:cut], f" {password} "]
        digits.append(plain)
        last = cut + len(password) + 2
    pieces.append(text[last:])
    return "".join(pieces)[: len(text)], digits


def _floor(text: str) -> bool:
    return b"000000" in text.encode("utf-8", "surrogatepass").translate(bytes(256))


def _timed(function, text: str) -> float:
    gc.disable()
    try:
        start = time.perf_counter()
        function(text)
        return time.perf_counter() - start
    finally:
        gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases, wrong = [], 0
    for name, text in _texts(args.size, rng).items():
        planted, digits = _planted(text, rng)
        masked = redact(planted)
        ascii_digits = re.sub(r"\D", "", masked.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")))
        kept = [d for d in digits if d in ascii_digits]
        if kept or masked.count(SECRET_MASK) < len(digits) or redact(text) != text:
            print(f"WRONG: {name}: {len(kept)} passwords kept, or the text without one changed")
            wrong += 1
        cases += [(f"{name}, none", text), (f"{name}, 100 passwords", planted)]
    rows = {
        "redact": redact,
        "pre-check only": may_hold_password,
        "floor (translate + in)": _floor,
        "previous pattern (reference)": lambda text: _PREVIOUS.sub(SECRET_MASK, text),
    }
    timings = {(case, row): [] for case, _ in cases for row in rows}
    for _ in range(args.repeat):  # round-robin, so machine drift spreads over every row
        for case, text in cases:
            for row, function in rows.items():
                timings[case, row].append(_timed(function, text))
    print(f"{args.size:,} characters per text, median of {args.repeat} (ms; ns per character; x floor)")
    for case, text in cases:
        floor = statistics.median(timings[case, "floor (translate + in)"])
        cells = []
        for row in rows:
            median = statistics.median(timings[case, row])
            cells.append(f"{row}: {median * 1e3:7.2f} ms {median * 1e9 / len(text):6.1f} ns {median / floor:5.1f}x")
        print(f"{case} (pre-check {'passes' if may_hold_password(text) else 'rules it out'})")
        print("    " + "\n    ".join(cells))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
