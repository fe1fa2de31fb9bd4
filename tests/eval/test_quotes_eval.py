"""Quotes and speakers against a hand-labelled gold set from SaudiNewsNet.

tests/eval/quotes_gold.jsonl: the first line lists the URLs of the 36 labelled articles (every
quote in each was labelled, so articles without quotes count towards precision); every other
line is one quote: url, start/end offsets of the quote content in the article's ``content``,
direct, speaker as written, and the first 25 characters (to check the offsets). Labelling
conventions are in docs/quotes.md.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from rasd.models import Article, Block
from rasd.quotes import extract_quotes
from rasd.textnorm import normalize

GOLD = Path(__file__).resolve().parent / "quotes_gold.jsonl"
_TRIM = " \t\n.،,؛;:-–—\"'«»“”„‟‘’()"

# Pinned floors, a little below the measured values (docs/quotes.md has the table).
FLOORS = {"precision": 0.90, "recall": 0.90, "exact": 0.85, "speaker": 0.80}


def load_gold() -> tuple[list[str], list[dict]]:
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    urls = json.loads(lines[0])["articles"]
    return urls, [json.loads(line) for line in lines[1:] if line.strip()]


def load_contents(shared: Path, urls: list[str]) -> dict[str, str]:
    wanted = set(urls)
    found: dict[str, str] = {}
    for path in sorted((shared / "news" / "saudinewsnet").glob("*.zip")):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                for item in json.loads(zf.read(name)):
                    if item["url"] in wanted and item["url"] not in found:
                        found[item["url"]] = item["content"]
    return found


def check_offsets(rows: list[dict], contents: dict[str, str]) -> list[str]:
    """Rows whose offsets do not point at their recorded first characters (empty when all do)."""
    bad = []
    for row in rows:
        text = contents.get(row["url"])
        start, end = row["start"], row["end"]
        if text is None or text[start : start + 25] != row["prefix"] or not start < end <= len(text):
            bad.append(f"{row['url']} {row['start']}:{row['end']} {row['prefix']}")
    return bad


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    return start, end


def same_speaker(pred: str | None, gold: str) -> bool:
    """Equal after normalisation, one phrase inside the other, or the same last word (surname)."""
    if not pred:
        return False
    p = re.sub(r"[^\w ]", " ", normalize(pred)).split()
    g = re.sub(r"[^\w ]", " ", normalize(gold)).split()
    if not p or not g:
        return False
    ps, gs = " " + " ".join(p) + " ", " " + " ".join(g) + " "
    return ps in gs or gs in ps or p[-1] == g[-1]


def score(preds: dict[str, list[tuple[int, int, str | None, bool]]], rows: list[dict],
          contents: dict[str, str]) -> dict[str, float]:
    gold_by: dict[str, list[dict]] = {}
    for row in rows:
        gold_by.setdefault(row["url"], []).append(row)
    n_pred = sum(len(v) for v in preds.values())
    matched = exact = speaker_ok = 0
    matched_direct = {True: 0, False: 0}
    for url, pred in preds.items():
        used: set[int] = set()
        for g in gold_by.get(url, []):
            best, best_ov = None, 0.0
            for k, (s, e, _, _) in enumerate(pred):
                if k in used:
                    continue
                inter = min(e, g["end"]) - max(s, g["start"])
                longer = max(e - s, g["end"] - g["start"])
                if inter > 0 and inter >= 0.5 * longer and inter / longer > best_ov:
                    best, best_ov = k, inter / longer
            if best is None:
                continue
            used.add(best)
            matched += 1
            matched_direct[g["direct"]] += 1
            s, e, spk, _ = pred[best]
            text = contents[url]
            exact += _trimmed(text, s, e) == _trimmed(text, g["start"], g["end"])
            speaker_ok += same_speaker(spk, g["speaker"])
    n_direct = sum(r["direct"] for r in rows)
    return {
        "gold": len(rows), "predicted": n_pred, "matched": matched,
        "precision": matched / n_pred if n_pred else 0.0,
        "recall": matched / len(rows),
        "recall_direct": matched_direct[True] / n_direct,
        "recall_indirect": matched_direct[False] / (len(rows) - n_direct),
        "exact": exact / matched if matched else 0.0,
        "speaker": speaker_ok / matched if matched else 0.0,
    }


_NAIVE = re.compile(r"[\"“”«»]([^\"“”«»\n]{1,1500})[\"“”«»]")


def naive_baseline(text: str) -> list[tuple[int, int, str | None, bool]]:
    """Every pair of double quote marks in a paragraph is a quote; no speakers, no indirect speech."""
    return [(m.start(1), m.end(1), None, True) for m in _NAIVE.finditer(text)]


def _scores(urls: list[str], rows: list[dict], contents: dict[str, str], name: str) -> dict:
    """rasd's and the naive baseline's scores on labelled articles; prints both."""
    ours: dict[str, list[tuple[int, int, str | None, bool]]] = {}
    naive: dict[str, list[tuple[int, int, str | None, bool]]] = {}
    for url in urls:
        text = contents[url]
        article = Article(id=url, text=text, blocks=(Block(0, len(text), "body"),), source="saudinewsnet")
        ours[url] = [(q.span[0], q.span[1], q.speaker_text, q.direct) for q in extract_quotes(article)]
        naive[url] = naive_baseline(text)
    result = score(ours, rows, contents)
    base = score(naive, rows, contents)
    print(f"\n{name}: {len(urls)} articles\n{'metric':<16}{'rasd':>10}{'naive marks':>14}")
    for key in ("gold", "predicted", "matched", "precision", "recall", "recall_direct", "recall_indirect",
                "exact", "speaker"):
        print(f"{key:<16}{result[key]:>10.3f}{base[key]:>14.3f}" if isinstance(result[key], float)
              else f"{key:<16}{result[key]:>10}{base[key]:>14}")
    return result


@pytest.mark.eval
def test_quotes_against_gold(shared_data: Path) -> None:
    urls, rows = load_gold()
    contents = load_contents(shared_data, urls)
    assert set(contents) == set(urls), "gold articles missing from SaudiNewsNet"
    assert check_offsets(rows, contents) == []
    assert len(rows) >= 100
    result = _scores(urls, rows, contents, "gold")
    for key, floor in FLOORS.items():
        assert result[key] >= floor, f"{key} {result[key]:.3f} fell below its floor {floor}"


# Held-out set: labelled after the rules were frozen, on articles the rules never saw (docs/quotes.md,
# "Held-out evaluation"). Measured before any rule was changed after reading it: P 0.945, R 0.910,
# exact 0.926, speaker 0.843 (the unbiased estimate). The rules were then fixed for the errors it
# showed (P 0.978, R 0.985, exact 0.962, speaker 0.969), so it is no longer untouched: the floors
# sit just under the new values and guard against regressions, not as a measure of unseen text.
HELDOUT = Path(__file__).resolve().parent / "quotes_heldout.jsonl"
HELDOUT_FLOORS = {"precision": 0.96, "recall": 0.97, "exact": 0.94, "speaker": 0.95}


# Second held-out set (docs/quotes.md, "Second held-out set"): 32 other SaudiNewsNet articles (seed
# 20250811), labelled after the issue #5 fixes with the rules frozen, measured once: P 0.946, R 0.833,
# exact 0.900, speaker 0.743 (0.729 before one speaker label was corrected): the unbiased estimate.
# The rules were then fixed for the errors it showed (issue #5, second round: P 0.976, R 0.952, exact
# 0.900, speaker 0.925), so it is no longer untouched: the floors sit just under the new values and
# guard against regressions, not as a measure of unseen text.
HELDOUT2 = Path(__file__).resolve().parent / "quotes_heldout2.jsonl"
HELDOUT2_FLOORS = {"precision": 0.95, "recall": 0.93, "exact": 0.88, "speaker": 0.90}


# name -> (labels, floors, the sets it must not overlap, the least number of quotes labelled)
HELDOUT_SETS = {
    "held-out": (HELDOUT, HELDOUT_FLOORS, (GOLD,), 100),
    "held-out 2": (HELDOUT2, HELDOUT2_FLOORS, (GOLD, HELDOUT), 80),
}


def _article_urls(path: Path) -> list[str]:
    return list(json.loads(path.read_text(encoding="utf-8").splitlines()[0])["articles"])


@pytest.mark.eval
@pytest.mark.parametrize("name", list(HELDOUT_SETS))
def test_quotes_against_heldout(shared_data: Path, name: str) -> None:
    path, floors, earlier_sets, least = HELDOUT_SETS[name]
    lines = path.read_text(encoding="utf-8").splitlines()
    urls = json.loads(lines[0])["articles"]
    rows = [json.loads(line) for line in lines[1:] if line.strip()]
    earlier = {url for earlier_path in earlier_sets for url in _article_urls(earlier_path)}
    assert not earlier & set(urls), f"{name} articles must not overlap the earlier sets"
    contents = load_contents(shared_data, urls)
    assert set(contents) == set(urls), f"{name} articles missing from SaudiNewsNet"
    assert check_offsets(rows, contents) == []
    assert len(rows) >= least
    result = _scores(urls, rows, contents, name)
    for key, floor in floors.items():
        assert result[key] >= floor, f"{name} {key} {result[key]:.3f} fell below its floor {floor}"
