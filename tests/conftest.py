from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Property tests measure behaviour, not speed: a busy CI machine must not fail them on time.
settings.register_profile("rasd", deadline=None)
settings.load_profile("rasd")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``eval`` need ../shared/data; without it they are skipped and say so."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"eval data not found at {SHARED_DATA} (see ../shared/data/README.md)")
    for item in items:
        if "eval" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA
