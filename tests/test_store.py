from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rasd import textnorm
from rasd.ingest import make_article
from rasd.store import MIGRATIONS, Store, fts_expression

WATER = "أقر مجلس الوزراء فى جلسته خطة وطنية لترشيد استهلاك المياه بعد تراجع منسوب السدود."
QUAKE = "ضرب زلزال بقوة 5.8 درجات المنطقة الجبلية، وقالت الحكومة إن فرق الإغاثة وصلت إلى القرى."


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "test.db") as s:
        yield s


def test_the_same_article_twice_is_stored_once(store: Store) -> None:
    a = make_article(WATER, source="الوطن اليوم", url="https://alwatan.example/1")
    first = store.upsert_articles([a, a])
    second = store.upsert_articles([a])
    assert first.added == [a.id] and first.unchanged == [a.id]
    assert second.added == [] and store.count_articles() == 1


def test_changed_text_under_the_same_url_is_a_new_version(store: Store) -> None:
    old = make_article(WATER, source="الوطن اليوم", url="https://alwatan.example/1")
    new = make_article(WATER + " وقالت الوزارة إن الخطة تبدأ الشهر المقبل.", source="الوطن اليوم",
                       url="https://alwatan.example/1")
    store.upsert_articles([old])
    result = store.upsert_articles([new])
    assert result.versions == [(new.id, old.id)]
    assert store.count_articles() == 2  # the old text is kept, never overwritten
    assert [a.id for a in store.articles()] == [new.id]
    assert {a.id for a in store.articles(latest_only=False)} == {old.id, new.id}


def test_a_failed_batch_leaves_the_store_as_it_was(store: Store) -> None:
    good = make_article(WATER, source="الوطن اليوم")
    store.upsert_articles([good])
    broken = make_article(QUAKE, source="موقع المرصد")
    object.__setattr__(broken, "text", None)  # NOT NULL violation half-way through the batch
    fine = make_article(QUAKE + " وأضافت", source="موقع المرصد")
    with pytest.raises(sqlite3.IntegrityError):
        store.upsert_articles([fine, broken])
    assert [a.id for a in store.articles()] == [good.id]


def test_search_matches_spelling_variants_and_inflections(store: Store) -> None:
    water = make_article(WATER, source="الوطن اليوم")
    quake = make_article(QUAKE, source="موقع المرصد")
    store.upsert_articles([water, quake])
    assert [h.id for h in store.search("في جلسته")] == [water.id]  # فى written as في
    assert [h.id for h in store.search("المياة")] == [water.id]  # ة/ه
    assert [h.id for h in store.search("الزلزال")] == [quake.id]  # with the article
    assert [h.id for h in store.search('"فرق الإغاثة"')] == [quake.id]
    assert store.search('"الإغاثة فرق"') == []
    hit = store.search("السدود")[0]
    assert any(highlighted and text == "السدود" for text, highlighted in hit.snippet)


def test_search_finds_a_word_with_or_without_the_article(store: Store) -> None:
    # Snowball alone stems حكومة and الحكومة apart (حكوم / حكومه): a search for one missed the other.
    water = make_article(WATER, source="الوطن اليوم")
    quake = make_article(QUAKE, source="موقع المرصد")
    store.upsert_articles([water, quake])
    assert [h.id for h in store.search("حكومة")] == [quake.id]  # the text says الحكومة
    assert [h.id for h in store.search("مياه")] == [water.id]  # the text says المياه
    assert [h.id for h in store.search("للسدود")] == [water.id]
    assert [h.id for h in store.search("قرى")] == [quake.id]  # the text says القرى
    hit = store.search("حكومة")[0]
    assert any(highlighted and text == "الحكومة" for text, highlighted in hit.snippet)


def test_a_search_index_made_by_an_older_stemmer_is_rebuilt_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as store:
        store.upsert_articles([make_article(QUAKE, source="موقع المرصد")])
        # As a store written before STEM_VERSION 2 holds it: الحكومة indexed as حكومه.
        store.db.execute("UPDATE articles_fts SET stems = replace(stems, 'حكوم', 'حكومه')")
        store.db.execute("DELETE FROM store_meta")
        assert store.search("حكومة") == []
    with Store(path) as store:
        assert len(store.search("حكومة")) == 1
        assert store.query("SELECT value FROM store_meta WHERE key = 'stem_version'") == [
            {"value": str(textnorm.STEM_VERSION)}
        ]
        assert store.count_articles() == 1


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_no_search_string_raises(query: str) -> None:
    with Store(":memory:") as store:
        store.upsert_articles([make_article(WATER, source="x")])
        store.search(query)


@pytest.mark.parametrize(
    "query",
    ['"', "' OR 1=1 --", "NEAR(a b)", "a AND OR NOT", "stems:x", "*", "^", "(((", "; DROP TABLE articles;",
     "المياه*", 'col:"x"', "\x00", "{stems}: a"],
)
def test_fts_syntax_and_sql_in_queries_are_harmless(store: Store, query: str) -> None:
    store.upsert_articles([make_article(WATER, source="x")])
    store.search(query)
    assert store.count_articles() == 1


def test_fts_expression_quotes_every_term() -> None:
    assert fts_expression('الحكومة OR "فرق الإغاثة"') == 'stems : "حكوم" AND stems : "or" AND stems : "فرق اغاث"'


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    with Store(path) as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
        rows = store.query("SELECT version FROM schema_migrations")
    assert [r["version"] for r in rows] == [v for v, _ in MIGRATIONS]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    from rasd.errors import StoreError

    bad = tmp_path / "notes.db"
    bad.write_text("not sqlite at all " * 100)
    with pytest.raises(StoreError, match=r"notes\.db"):
        Store(bad)
