from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from rasd.cli import app
from rasd.ingest import discover
from rasd.pipeline import ingest
from rasd.report import TOP_LEVEL, report_schema
from rasd.settings import Settings
from rasd.store import Store

INGEST = Path(__file__).parent / "data" / "ingest"
runner = CliRunner()


def rasd(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ingest_exit_codes_and_one_line_per_bad_input(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    code, _, _ = rasd("ingest", str(INGEST / "wire-utf8.txt"), "--db", db)
    assert code == 0
    code, _, err = rasd("ingest", str(INGEST / "wire-utf8.txt"), str(INGEST / "binary.txt"),
                        str(INGEST / "empty.txt"), "--db", db)
    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 2
    assert any("binary.txt" in line and "binary file" in line for line in error_lines)
    assert "1 already stored" in err
    code, _, _ = rasd("ingest", "--db", db)  # missing PATH
    assert code == 2
    code, _, _ = rasd("export", "--format", "xml", "--db", db)
    assert code == 2


def test_analyze_writes_a_report_that_validates(tmp_path: Path) -> None:
    db, report = tmp_path / "r.db", tmp_path / "report.json"
    code, _, _ = rasd("analyze", str(INGEST), "--meta", str(INGEST / "manifest.csv"), "--db", str(db),
                        "--report", str(report))
    assert code == 1  # the folder holds bad files on purpose
    data = json.loads(report.read_text(encoding="utf-8"))
    jsonschema.validate(data, report_schema())
    assert set(TOP_LEVEL) <= set(data)
    titles = {a["title"] for a in data["articles"]}
    assert "الحكومة تقر خطة لترشيد استهلاك المياه" in titles  # Arabic as-is, not \u escapes
    assert "الحكومة تقر" in report.read_text(encoding="utf-8")


def test_search_and_export_formats(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    rasd("ingest", str(INGEST / "feed.xml"), str(INGEST / "page.html"), "--db", db)
    code, out, _ = rasd("search", "الوقود", "--db", db)
    assert code == 0 and "البرلمان يناقش زيادة أسعار الوقود" in out
    code, out, _ = rasd("export", "--format", "jsonl", "--db", db)
    lines = [json.loads(line) for line in out.splitlines()]
    assert {r["source"] for r in lines} == {"شبكة النبأ الإخبارية", "موقع المرصد"}
    code, out, _ = rasd("export", "--format", "csv", "--db", db)
    assert out.splitlines()[0] == "id,source,url,published,title,path,text"
    code, out, _ = rasd("stats", "--db", db)
    assert code == 0 and "شبكة النبأ الإخبارية" in out


def _many_files(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(count):
        (folder / f"{i:05d}.txt").write_text(
            f"خبر رقم {i}\n\nأعلنت البلدية رقم {i} عن افتتاح حديقة عامة جديدة تتسع لـ{i * 7} زائر يوميا.",
            encoding="utf-8",
        )


def test_a_folder_of_ten_thousand_small_files_is_read_with_progress(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    _many_files(folder, 10_000)
    sources, errors = discover([str(folder)])
    seen = []
    with Store(tmp_path / "many.db") as store:
        summary = ingest(sources, store, Settings(), on_source=seen.append)
        assert store.count_articles() == 10_000
    assert not errors and not summary.errors
    assert len(seen) == 10_000 and summary.added == 10_000


def test_a_killed_ingest_resumes_and_stores_every_article_once(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    _many_files(folder, 6000)
    db = tmp_path / "kill.db"
    cmd = [sys.executable, "-m", "rasd", "ingest", str(folder), "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    stored = con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if stored >= 400:
                break
    assert proc.poll() is None, "ingest finished before it could be killed; make the batch bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < stored < 6000
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    with sqlite3.connect(db) as con:
        total, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM articles").fetchone()
        fts = con.execute("SELECT COUNT(*) FROM articles_fts").fetchone()[0]
    assert total == distinct == fts == 6000


@pytest.mark.parametrize("bad", ["[ingest]\nmax_file_mb = 'x'\nnope = 1\n", "[nosuch]\na = 1\n"])
def test_bad_settings_file_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(bad, encoding="utf-8")
    code, _, err = rasd("ingest", str(INGEST / "wire-utf8.txt"), "--db", str(tmp_path / "x.db"),
                        "--settings", str(path))
    assert code == 2 and "unknown" in err
