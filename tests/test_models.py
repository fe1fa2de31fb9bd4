"""The per-article memo the incremental pipeline keeps summaries' and timelines' parses in."""

from __future__ import annotations

from dataclasses import replace

from rasd.models import Article, ArticleMemo, Block


def _article(aid: str, text: str) -> Article:
    return Article(id=aid, text=text, blocks=(Block(0, len(text), "body"),))


def test_memo_computes_each_article_once_recomputes_a_new_version_and_stays_bounded() -> None:
    calls: list[str] = []

    def words(article: Article) -> list[str]:
        calls.append(article.id)
        return article.text.split()

    memo = ArticleMemo(words, size=2)
    a, b, c = _article("a", "قال الوزير"), _article("b", "أعلن المتحدث"), _article("c", "أكد البيان")
    assert memo.get(a) == ["قال", "الوزير"]
    assert memo.get(replace(a)) == ["قال", "الوزير"]  # an equal article, not only the same object
    assert calls == ["a"]
    # A new version under a kept id is computed again, and replaces the kept one.
    edited = replace(a, text="قال الوزير أمس", blocks=(Block(0, 14, "body"),))
    assert memo.get(edited) == ["قال", "الوزير", "أمس"]
    assert calls == ["a", "a"]
    memo.get(b)
    memo.get(c)  # past size 2: the least recently computed ("a") goes
    memo.get(c)
    memo.get(b)
    assert calls == ["a", "a", "b", "c"]
    memo.get(edited)
    assert calls == ["a", "a", "b", "c", "a"]
