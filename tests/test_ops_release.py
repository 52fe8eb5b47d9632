"""deploy/ops.py release: its arguments become the release job's launchpad config and tags."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
import ops  # noqa: E402

KEY = "quarantine/events/2024-08-05/abc/orders.csv"


@pytest.fixture
def launched(monkeypatch):
    calls = []

    def launch_job(client, location, job, run_config, tags):
        calls.append({"location": location, "job": job, "run_config": run_config, "tags": tags})
        return "run-1"

    monkeypatch.setattr(ops.gql, "launch_job", launch_job)
    return calls


def test_release_launches_the_job_with_launchpad_config_and_tags(launched, monkeypatch, capsys):
    monkeypatch.setenv("USER", "ana")
    assert ops.main(["release", KEY, "--reason", "fixed upstream"]) == 0
    [call] = launched
    assert (call["location"], call["job"]) == ("ingest", "release_from_quarantine")
    assert call["run_config"] == {
        "ops": {
            "release_quarantined_file": {
                "config": {"quarantine_key": KEY, "reason": "fixed upstream", "released_by": "ana"}
            }
        }
    }
    assert call["tags"] == {"quarantine/released_by": "ana", "quarantine/file": KEY}
    assert "release run run-1" in capsys.readouterr().out


def test_by_and_landing_name_override(launched):
    ops.main(["release", KEY, "--reason", "r", "--by", "bo", "--landing-name", "orders-2.csv"])
    config = launched[0]["run_config"]["ops"]["release_quarantined_file"]["config"]
    assert config["released_by"] == "bo" and config["landing_name"] == "orders-2.csv"


def test_a_reason_is_required_and_not_blank(launched, capsys):
    with pytest.raises(SystemExit):
        ops.main(["release", KEY])
    assert ops.main(["release", KEY, "--reason", " ", "--by", "bo"]) == 1
    assert "--reason must not be empty" in capsys.readouterr().err
    assert not launched
