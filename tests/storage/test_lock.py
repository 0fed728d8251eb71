"""One writer per output: the write lock beside each output, across processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.errors import OutputError
from collector.storage.lock import lock_path, output_locks

HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from collector.storage.lock import output_locks\n"
    "with output_locks([Path(sys.argv[1])]):\n"
    "    print('held', flush=True)\n"
    "    sys.stdin.readline()\n"
)


def holder(output: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(output)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    output = tmp_path / "insights.sqlite"
    process = holder(output)
    try:
        with pytest.raises(OutputError) as refused, output_locks([output]):
            pass
        assert f"pid {process.pid} since" in str(refused.value)
        assert str(output) in str(refused.value) and "fix" in str(refused.value)
    finally:
        process.communicate("done\n", timeout=10)
    with output_locks([output]):  # released when its holder ended
        assert "pid " in lock_path(output).read_text()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    output = tmp_path / "out.ndjson"
    process = holder(output)
    process.kill()
    process.communicate(timeout=10)  # reaps it and closes its pipes
    assert lock_path(output).exists()  # the file stays, the kernel's lock does not
    with output_locks([output, None]):
        pass


def test_the_lock_is_reentrant_within_one_process(tmp_path: Path) -> None:
    output = tmp_path / "insights.sqlite"
    with output_locks([output]), output_locks([output]):
        pass
    with output_locks([output]):  # and fully released after both
        pass
