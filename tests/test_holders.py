"""Lease and attempt holders: a killed process of this host is known dead at
once, anything else only when its lease expires."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from bot import failpoints, holders
from bot.errors import ConfigError


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_holder_whose_process_is_gone_is_dead():
    assert holders.is_dead(f"{socket.gethostname()}:{_dead_pid()}:0a1b2c3d")


def test_a_live_process_another_host_or_a_foreign_name_is_not_known_dead():
    here = socket.gethostname()
    assert not holders.is_dead(f"{here}:{os.getppid()}:0a1b2c3d")  # alive
    assert not holders.is_dead(f"elsewhere.example:{_dead_pid()}:0a1b2c3d")  # cannot see that host
    for foreign in ("chaos", "other-daemon", f"{here}:notapid:x", f"{here}:{_dead_pid()}"):
        assert not holders.is_dead(foreign)


def test_our_own_pid_under_another_id_is_an_earlier_life_of_this_process():
    """A container restarts its daemon with the same pid: the old holder is dead, ours is not."""
    mine = holders.holder()
    assert not holders.is_dead(mine)
    assert holders.is_dead(f"{socket.gethostname()}:{os.getpid()}:feedbeef")


def test_failpoints_are_parsed_strictly():
    assert failpoints.parse("keying.after_submit=3, mail.after_send=1") == {"keying.after_submit": 3, "mail.after_send": 1}
    assert failpoints.parse("") == {}
    with pytest.raises(ConfigError, match="unknown failpoint 'keying.after_lunch'"):
        failpoints.parse("keying.after_lunch=1")
    with pytest.raises(ConfigError, match="'mail.after_send=0'"):
        failpoints.parse("mail.after_send=0")


def test_an_armed_failpoint_kills_the_process_at_its_hit(tmp_path):
    code = "from bot import failpoints\nfor i in range(5):\n    print(i, flush=True)\n    failpoints.reach('intake.after_commit')\n"
    env = {**os.environ, failpoints.ENV: "intake.after_commit=3"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == -9
    assert run.stdout.split() == ["0", "1", "2"]
    assert "failpoint intake.after_commit: SIGKILL at hit 3" in run.stderr


def test_a_malformed_failpoint_setting_stops_a_command_with_a_clear_message(tmp_path):
    env = {**os.environ, failpoints.ENV: "keying.after_lunch=1"}
    run = subprocess.run([sys.executable, "-m", "bot.cli", "config", "check"], capture_output=True, text=True,
                         env=env, timeout=120, check=False, cwd=tmp_path)
    assert run.returncode != 0
    assert "ORDERBOT_FAILPOINTS: unknown failpoint 'keying.after_lunch'" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
