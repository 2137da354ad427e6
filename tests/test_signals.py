"""SIGTERM is handled like Ctrl-C: the run is marked interrupted, finished timings are kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

from vecstudy import cli
from vecstudy.records import results
from vecstudy.signals import Terminated, sigterm_as_interrupt
from vecstudy.study import sweep

from tests.conftest import TINY_SWEEP as TINY

#: A sweep that runs for minutes: many rounds, each case allowed the time they take.
LONG = ["--repeats", "20000", "--budget", "100000"]


def _terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_raises_a_keyboard_interrupt_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt() as got:
        try:
            _terminate_self()
            time.sleep(5)  # pragma: no cover - the signal interrupts the sleep
        except KeyboardInterrupt as exc:
            caught: BaseException = exc
    assert isinstance(caught, Terminated)
    assert got.signum == signal.SIGTERM
    assert got.exit_status == 143
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_ignored_sigterm_stays_ignored() -> None:
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with sigterm_as_interrupt() as got:
            _terminate_self()
            time.sleep(0.05)
        assert got.signum is None
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


def test_outside_the_main_thread_nothing_changes() -> None:
    seen: list[Any] = []

    def work() -> None:
        with sigterm_as_interrupt() as got:
            seen.append(signal.getsignal(signal.SIGTERM))
        seen.append(got.signum)

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [before, None]


def test_sigterm_during_bench_marks_the_run_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = {"n": 0}
    real = sweep.time_round

    def killed(*args: Any, **kwargs: Any) -> float:
        calls["n"] += 1
        if calls["n"] == 4:
            _terminate_self()
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "time_round", killed)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "r.json"
    assert cli.main(["bench", *TINY, "--repeats", "9", "--output", str(out)]) == 143
    err = capsys.readouterr().err
    assert "interrupted by SIGTERM; kept 3 rows of this run" in err
    res = results.load_results(out)
    assert res.runs[0]["status"] == "interrupted"
    assert res.runs[0]["finished"] is not None
    assert len(res.rows) == 3
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("command", sorted(cli.SIGTERM_AS_INTERRUPT))
def test_every_long_command_handles_sigterm(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def stopped(_args: object) -> int:
        _terminate_self()
        time.sleep(5)  # pragma: no cover - the signal interrupts the sleep
        return 0

    monkeypatch.setitem(cli._COMMANDS, command, stopped)
    args = {"compare": ["a", "b"]}.get(command, [])
    assert cli.main([command, *args]) == 143
    assert f"vecstudy {command}: interrupted by SIGTERM" in capsys.readouterr().err


def test_roofline_stopped_by_sigterm_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def measure(**_kw: object) -> None:
        _terminate_self()
        time.sleep(5)  # pragma: no cover

    fake = types.ModuleType("vecstudy.study.roofline")
    fake.measure_targets = measure  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vecstudy.study.roofline", fake)
    monkeypatch.setattr("vecstudy.study.roofline", fake, raising=False)
    out = tmp_path / "roofline.md"
    assert cli.main(["roofline", "--output", str(out)]) == 143
    assert not out.exists()


@pytest.mark.slow
def test_kill_ends_a_bench_process_with_the_run_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecstudy", "bench", *TINY, *LONG, "--output", str(out)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait for the first saved round
            if out.exists() and json.loads(out.read_text() or "{}").get("rows"):
                break
            time.sleep(0.1)
        assert results.load_results(out).runs[0]["status"] == "running"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    res = results.load_results(out)
    assert res.runs[0]["status"] == "interrupted"
    assert len(res.rows) >= 1
    assert (res.rows["status"] == "ok").all()
