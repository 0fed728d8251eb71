"""Headless Chromium for the report tests: the rendered DOM, a screenshot, the network log.

Debian's ``chromium`` is what runs (``scripts/test`` and ``.ci/run`` install it when
missing). Without it a test is skipped on a developer's machine and fails under
``CI=true``, where a missing browser is a broken machine, not a reason to pass.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)  # fmt: skip
TIMEOUT_S = 90


def chromium() -> str:
    """The chromium binary; skips the test without one (fails it under CI=true)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(page: Path, tmp: Path, *extra: str) -> str:
    """Open ``page`` (a file) in a fresh profile under ``tmp`` with ``extra`` flags; stdout."""
    profile = tmp / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=True,
    )
    return done.stdout


def dump_dom(page: Path, tmp: Path) -> str:
    """The DOM chromium rendered from ``page``, serialised."""
    return run(page, tmp, "--dump-dom")


def screenshot(page: Path, tmp: Path, *, width: int = 800, height: int = 2400) -> Path:
    """A PNG screenshot of ``page`` in a ``width`` x ``height`` window, at half scale (the
    decoder below is pure Python: a quarter of the pixels keeps it quick)."""
    png = tmp / "shot.png"
    run(
        page,
        tmp,
        f"--screenshot={png}",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=0.5",
    )
    return png


def page_requests(page: Path, tmp: Path) -> list[str]:
    """URLs the page itself asked the network stack for while it loaded (from chromium's
    net log: requests whose isolation key is the file page's, not the browser's own)."""
    log = tmp / "net.json"
    run(page, tmp, f"--log-net-log={log}", "--dump-dom")
    data = json.loads(log.read_text())
    names = {number: name for name, number in data["constants"]["logEventTypes"].items()}
    return [
        event["params"]["url"]
        for event in data["events"]
        if names.get(event["type"]) == "URL_REQUEST_START_JOB"
        and "file://" in event["params"].get("network_isolation_key", "")
    ]


def ink(png: Path) -> float:
    """The share of pixels in ``png`` that are not white (8-bit RGB or RGBA, decoded here)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat, header = 8, b"", b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), f"unexpected PNG format {depth}/{colour}"
    step = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * step
    previous, marked = bytearray(stride), 0
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, step)
        marked += sum(1 for x in range(0, stride, step) if min(line[x : x + 3]) < 245)
        previous = line
    return marked / (width * height)


def _unfilter(kind: int, line: bytearray, above: bytearray, step: int) -> bytearray:
    """Undo one PNG scanline filter (https://www.w3.org/TR/png/#9Filters)."""
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, above, strict=True))
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        up, corner = above[i], above[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + guess) & 0xFF
    return line


class Chart:
    """One ``svg.chart`` of the DOM: its declared point count and its points."""

    def __init__(self, points: int) -> None:
        self.declared = points
        self.points: list[dict[str, str]] = []


class ReportDom(HTMLParser):
    """The charts and no-data notes of each ``<section id>`` of a rendered report."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.charts: dict[str, list[Chart]] = {}
        self.notes: dict[str, list[str]] = {}
        self._section = ""
        self._note = False
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "section":
            self._section = a.get("id", "")
            self.charts.setdefault(self._section, [])
            self.notes.setdefault(self._section, [])
        elif tag == "svg" and "chart" in classes:
            self.charts[self._section].append(Chart(int(a["data-points"])))
        elif "point" in classes:
            self.charts[self._section][-1].points.append(a)
        elif tag == "p" and "no-data" in classes:
            self._note = True
            self.notes[self._section].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = ""
        elif tag == "p":
            self._note = False

    def handle_data(self, data: str) -> None:
        if self._note:
            self.notes[self._section][-1] += data
