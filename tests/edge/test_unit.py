"""The systemd unit runs the logger as a dedicated user in a sandbox that systemd itself
rates (``systemd-analyze security``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "edge" / "cantelem-edge.service"


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line.strip() and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_runs_as_a_dedicated_user_without_privileges():
    s = _settings()
    assert s["User"] == ["cantelem"] and s["Group"] == ["cantelem"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
                       "AmbientCapabilities": "", "RestrictSUIDSGID": "yes",
                       "DevicePolicy": "closed"}.items():
        assert s[key] == [value], (key, s.get(key))
    # the one place it writes is its state directory, which is the spool
    assert s["StateDirectory"] == ["cantelem"]
    assert "CANTELEM_EDGE_SPOOL=/var/lib/cantelem" in s["Environment"]
    assert "AF_CAN" in s["RestrictAddressFamilies"][0]
    assert s["TimeoutStopSec"] == ["30"] and s["KillSignal"] == ["SIGTERM"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_rates_the_sandbox_ok():
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=25",
                          str(UNIT)], capture_output=True, text=True)
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d)", out.stdout)
    assert level, out.stdout + out.stderr
    assert out.returncode == 0 and float(level.group(1)) <= 2.5, out.stdout[-2000:]
