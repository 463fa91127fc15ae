"""Shared fixtures: the corpus (read in place, never copied), sample data, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def corpus_dir() -> Path:
    """``$CANTELEM_CORPUS`` or ``../shared/corpus`` beside the project root."""
    return Path(os.environ.get("CANTELEM_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()


def corpus_path(*parts: str) -> Path:
    """A corpus path; the calling test is skipped, with the reason, when it is absent."""
    p = corpus_dir().joinpath(*parts)
    if not p.exists():
        pytest.skip(f"corpus file {p} is absent (set CANTELEM_CORPUS to the shared corpus)")
    return p


def corpus_files(folder: str, pattern: str) -> list[Path]:
    base = corpus_dir() / folder
    return sorted(base.glob(pattern)) if base.is_dir() else []


@pytest.fixture(scope="session")
def corpus() -> Path:
    d = corpus_dir()
    if not d.is_dir():
        pytest.skip(f"shared corpus {d} is absent (set CANTELEM_CORPUS)")
    return d


@pytest.fixture(scope="session")
def sample_db():
    import cantelem_sci as ct

    return ct.load_dbc(ct.sample_dbc_path())


@pytest.fixture(scope="session")
def sample_batch():
    import cantelem_sci as ct

    return ct.simulate_vehicle("EV0001", duration_s=20.0, seed=7)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "corpus" in item.fixturenames or "corpus" in item.nodeid.lower():
            item.add_marker(pytest.mark.corpus)
