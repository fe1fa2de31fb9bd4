"""Print a SaudiNewsNet slice for hand labelling of stories and events (see docs/clustering.md).

Usage: python scripts/label_helper.py OUTLET[,OUTLET] FIRST_DAY LAST_DAY [--neighbours]

Lists every article of the outlets on the days (index, day, outlet, title, opening words), so the
whole slice can be read and labelled; ``--neighbours`` adds, for each article, the three most
similar earlier-listed titles by plain TF-IDF so that a reader can check no pair was missed.
The labels themselves are written by a person into tests/eval/clusters_gold.jsonl.
"""

from __future__ import annotations

import json
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "news" / "saudinewsnet"


def load_slice(outlets: set[str], first: str, last: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    day = date.fromisoformat(first)
    while day <= date.fromisoformat(last):
        path = DATA / f"{day.isoformat()}.zip"
        if path.exists():
            with zipfile.ZipFile(path) as zf:
                items = json.loads(zf.read(zf.namelist()[0]))
            out.extend(dict(a, day=day.isoformat()) for a in items if a["source"] in outlets)
        day += timedelta(days=1)
    return out


def main(argv: list[str]) -> None:
    outlets, first, last = set(argv[0].split(",")), argv[1], argv[2]
    items = load_slice(outlets, first, last)
    neighbours: list[list[int]] = [[] for _ in items]
    if "--neighbours" in argv:
        from sklearn.feature_extraction.text import TfidfVectorizer

        mat = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(
            [a["title"] + " " + a["content"][:400] for a in items]
        )
        sims = (mat @ mat.T).toarray()
        for i in range(len(items)):
            row = sorted(((sims[i, j], j) for j in range(len(items)) if j != i), reverse=True)[:3]
            neighbours[i] = [j for s, j in row if s > 0.2]
    for i, a in enumerate(items):
        lead = " ".join(a["content"].split())[:110]
        extra = f" ~{neighbours[i]}" if neighbours[i] else ""
        print(f"{i}\t{a['day'][5:]}\t{a['source'][:5]}\t{a['title'].strip()}\t| {lead}{extra}")


if __name__ == "__main__":
    main(sys.argv[1:])
