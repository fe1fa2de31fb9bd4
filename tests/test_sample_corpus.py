"""The bundled sample corpus through the whole pipeline, against the ground truth written with it
(rasd/data/sample/expected.json): the copies, the rewrite, the people under two spellings, the
dates, the quotes and the stories come out as the corpus's author wrote them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rasd.ingest import discover
from rasd.models import Analysis
from rasd.pipeline import analyze, ingest
from rasd.report import build_report, report_schema
from rasd.settings import Settings
from rasd.store import Store
from rasd.textnorm import normalize

#: Story BCubed recall measured on the sample: 0.368 from 2026-11-23 to the fifth clustering session,
#: 0.781 (precision 1.000) since the sixth session's background document frequencies and story
#: settings (docs/clustering.md, "Background document frequencies"), 0.883 since the seventh
#: session's stemming (the article removed before Snowball) and story threshold 0.20.
RECALL_FLOOR = 0.85
SAMPLE = Path(__file__).resolve().parent.parent / "rasd" / "data" / "sample"
EXPECTED = json.loads((SAMPLE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysis, dict[str, str]]:
    sources, errors = discover([str(SAMPLE / d) for d in ("articles", "pages", "feeds", "jsonl")],
                               str(SAMPLE / "manifest.csv"))
    assert not errors
    with Store(tmp_path_factory.mktemp("sample") / "s.db") as store:
        summary = ingest(sources, store, Settings())
        assert not summary.errors and summary.added == 45
        analysis = analyze(list(store.articles()), Settings())
    refs = {}
    for a in analysis.articles:
        path = Path(a.path or "")
        ref = str(path.relative_to(SAMPLE)) if path.is_absolute() else str(path)
        refs[ref.replace("\\", "/")] = a.id
    return analysis, refs


def test_report_validates_and_every_article_is_read(analysed: tuple[Analysis, dict[str, str]]) -> None:
    analysis, refs = analysed
    report = build_report(analysis)
    jsonschema.validate(report, report_schema())
    assert len(refs) == 45
    by_id = {a.id: a for a in analysis.articles}
    for story in analysis.stories:
        assert story.summary and story.timeline, story.title
        assert all(event.date for event in story.events), story.title
        for sentence in story.summary:
            # Summary sentences come from body text only: never a title, credit line or site furniture.
            article = by_id[sentence.article]
            assert article.text[sentence.span[0] : sentence.span[1]] == sentence.text
            assert any(b.kind == "body" and b.start <= sentence.span[0] and sentence.span[1] <= b.end
                       for b in article.blocks), sentence.text


def _link(analysis: Analysis, source: str, target: str) -> Any:
    return next((r for r in analysis.reuse if {r.source, r.target} == {source, target}), None)


def test_syndicated_copy_is_found_with_its_direction(analysed: tuple[Analysis, dict[str, str]]) -> None:
    analysis, refs = analysed
    for case in EXPECTED["syndicated"]:
        src, copy = refs[case["source"]], refs[case["copy"]]
        assert any({src, copy} <= set(d.articles) for d in analysis.duplicates)
        link = _link(analysis, src, copy)
        assert link is not None and (link.source, link.target) == (src, copy) and link.direction_known
        copy_article = next(a for a in analysis.articles if a.id == copy)
        assert copy_article.credit == "وكالة أنباء الساحل"


def test_paraphrased_rewrite_is_aligned_passage_by_passage(analysed: tuple[Analysis, dict[str, str]]) -> None:
    analysis, refs = analysed
    by_id = {a.id: a for a in analysis.articles}
    for case in EXPECTED["paraphrase"]:
        src, rewrite = refs[case["source"]], refs[case["rewrite"]]
        link = _link(analysis, src, rewrite)
        assert link is not None and (link.source, link.target) == (src, rewrite)
        found = 0
        for source_phrase, rewrite_phrase in case["passages"]:
            s0 = by_id[src].text.index(source_phrase)
            t0 = by_id[rewrite].text.index(rewrite_phrase)
            if any(p.source_span[0] < s0 + len(source_phrase) and s0 < p.source_span[1]
                   and p.target_span[0] < t0 + len(rewrite_phrase) and t0 < p.target_span[1]
                   for p in link.passages):
                found += 1
        assert found >= len(case["passages"]) - 1, f"{found} of {len(case['passages'])} passages aligned"


def test_people_under_two_spellings_are_one_entity_with_every_outlets_titles(
    analysed: tuple[Analysis, dict[str, str]],
) -> None:
    analysis, _ = analysed
    source_of = {a.id: a.source for a in analysis.articles}
    for person in EXPECTED["people"][:2]:  # Shoigu (two transliterations) and Haftar (titles)
        spellings = {normalize(s) for s in person["spellings"]}
        holders = [e for e in analysis.entities if e.type == "PER" and spellings & {normalize(a) for a in e.aliases}]
        assert len(holders) == 1, [e.name for e in holders]
        entity = holders[0]
        assert spellings <= {normalize(a) for a in entity.aliases}
        titles: dict[str, set[str]] = {}
        for m in entity.mentions:
            if m.title:
                titles.setdefault(source_of[m.article] or "", set()).add(normalize(m.title))
        expected_outlets = set(person["titles_by_outlet"])
        covered = {o for o, ts in person["titles_by_outlet"].items()
                   if {normalize(t) for t in ts} & titles.get(o, set())}
        assert len(covered) >= len(expected_outlets) - 2, (covered, titles)
    haftar = next(e for e in analysis.entities if "حفتر" in e.name and e.type == "PER")
    by_outlet = {source_of[m.article]: normalize(m.title) for m in haftar.mentions if m.title}
    assert by_outlet.get("شبكة النبأ الإخبارية") == normalize("اللواء المتقاعد")
    assert by_outlet.get("صحيفة الأفق") == normalize("المشير") or normalize("المشير") in {
        normalize(m.title or "") for m in haftar.mentions}


def test_dates_resolve_against_publication(analysed: tuple[Analysis, dict[str, str]]) -> None:
    analysis, refs = analysed
    by_id = {a.id: a for a in analysis.articles}
    right = 0
    for case in EXPECTED["dates"]:
        article = refs[case["article"]]
        start = by_id[article].text.find(case["text"])
        end = start + len(case["text"])
        # The expression may be cut a little wider or narrower (صباح اليوم الإثنين); its value counts.
        values = {r.value for r in analysis.dates if r.article == article and r.span[0] < end and start < r.span[1]}
        exact_day = case.get("granularity") == "day" and not case.get("approximate")
        if values and (not exact_day or case["value"] in values):
            right += 1
    assert right >= 0.9 * len(EXPECTED["dates"]), f"{right} of {len(EXPECTED['dates'])}"


def test_quotes_have_their_speakers(analysed: tuple[Analysis, dict[str, str]]) -> None:
    analysis, refs = analysed
    names = {e.id: {normalize(a) for a in e.aliases} for e in analysis.entities}
    right = 0
    for case in EXPECTED["quotes"]:
        article = refs[case["article"]]
        quote = next((q for q in analysis.quotes if q.article == article
                      and normalize(case["text_contains"]) in normalize(q.text)), None)
        if quote is None:
            continue
        speaker = normalize(case["speaker"])
        if (quote.speaker and speaker in names[quote.speaker]) or speaker in normalize(quote.speaker_text or ""):
            right += 1
    assert right >= 0.7 * len(EXPECTED["quotes"]), f"{right} of {len(EXPECTED['quotes'])}"


def _bcubed(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float]:
    precision = recall = 0.0
    for item in gold:
        same_gold = {i for i in gold if gold[i] == gold[item]}
        same_pred = {i for i in gold if predicted[i] == predicted[item]}
        both = len(same_gold & same_pred)
        precision += both / len(same_pred)
        recall += both / len(same_gold)
    return precision / len(gold), recall / len(gold)


def test_stories_against_the_stories_as_written(analysed: tuple[Analysis, dict[str, str]]) -> None:
    """Story BCubed against expected.json: a floor under what clustering reaches today.

    Measured 2026-11-23: precision 1.00, recall 0.37 — every story pure, multi-day stories split
    into their events. Since the sixth clustering session: precision 1.00, recall 0.78; since the
    seventh, recall 0.88 (the water and earthquake stories whole). Still split: the fuel story's
    three events from each other and the summit's opening meeting from the rest.
    The floor guards precision and the recall reached.
    """
    analysis, refs = analysed
    story_of = {a: s.id for s in analysis.stories for a in s.articles}
    gold = {refs[r]: story["key"] for story in EXPECTED["stories"] for r in story["articles"]}
    gold.update({refs[r]: r for r in EXPECTED["singletons"]})
    precision, recall = _bcubed(gold, {a: story_of[a] for a in gold})
    print(f"sample stories: BCubed precision {precision:.3f} recall {recall:.3f}")
    assert precision >= 0.95
    assert recall >= RECALL_FLOOR


def test_events_are_pure(analysed: tuple[Analysis, dict[str, str]]) -> None:
    analysis, refs = analysed
    gold = {refs[r]: story["key"] for story in EXPECTED["stories"] for r in story["articles"]}
    for story in analysis.stories:
        for event in story.events:
            keys = {gold.get(a, a) for a in event.articles}
            assert len(keys) == 1, (event.title, keys)
