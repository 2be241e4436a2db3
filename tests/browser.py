"""Stdlib-only headless Chromium driver for checking generated HTML reports.

Chromium is started with ``--remote-debugging-pipe``: instead of opening a
websocket it speaks the Chrome DevTools Protocol (CDP) over two inherited file
descriptors.  It *reads* commands from fd 3 and *writes* responses and events to
fd 4.  Each message is one JSON object followed by a NUL byte (``b"\\0"``):

    -> {"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}}\\0
    <- {"id": 1, "result": {"targetId": "..."}}\\0
    <- {"method": "Target.targetCreated", "params": {...}}\\0      (an event: no id)

We create two ``os.pipe()``s and start Chromium through a one-line Python
trampoline that ``dup2``s the child's ends onto fds 3 and 4 and then ``execv``s.
Browser-level commands (``Target.*``) go out as-is; after
``Target.attachToTarget(flatten=True)`` page-level commands carry the returned
``"sessionId"`` and so do the page's events.  Reads use ``select``
with a deadline, so a hung or crashed browser becomes a ``RuntimeError``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--mute-audio", "--disable-dev-shm-usage", "--remote-debugging-pipe",
]

TRAMPOLINE = (
    "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); "
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])"
)

IMAGES_JS = """JSON.stringify({title: document.title, images: Array.from(document.images).map(img => {
  const r = img.getBoundingClientRect();
  return {id: img.id, alt: img.alt, complete: img.complete, natural_width: img.naturalWidth,
          natural_height: img.naturalHeight, rendered_width: r.width, rendered_height: r.height};
})})"""

LAYOUT_JS = """(() => {
  const visible = el => { const s = getComputedStyle(el); const r = el.getBoundingClientRect();
    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0; };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '');
  const overflows = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1)
    overflows.push(`page: ${doc.scrollWidth}px wide in a ${window.innerWidth}px window`);
  for (const el of document.body.querySelectorAll('*')) {
    if (!visible(el) || el.closest('details:not([open])')) continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      overflows.push(`${name(el)} scrolls: content ${el.scrollWidth}px in ${el.clientWidth}px`);
    const parent = el.parentElement;
    if (parent && parent !== document.body.parentElement) {
      const r = el.getBoundingClientRect(), p = parent.getBoundingClientRect();
      const pad = parseFloat(getComputedStyle(parent).paddingRight) || 0;
      if (r.right > p.right - pad + 1 && parent.tagName !== 'TR' && parent.tagName !== 'TBODY'
          && parent.tagName !== 'TABLE')
        overflows.push(`${name(el)} sticks out of ${name(parent)} by ${Math.round(r.right - p.right + pad)}px`);
    }
  }
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node, k = 0;
  while ((node = walker.nextNode())) {
    if (!node.textContent.trim() || !visible(node.parentElement)) continue;
    if (node.parentElement.closest('details:not([open]), style, script')) continue;
    const range = document.createRange(); range.selectNodeContents(node);
    for (const r of range.getClientRects())
      if (r.width > 0 && r.height > 0) boxes.push({k, r, text: node.textContent.trim().slice(0, 40)});
    k++;
  }
  const overlaps = [];
  boxes.sort((a, b) => a.r.top - b.r.top);
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length && boxes[j].r.top < boxes[i].r.bottom - 1; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.k === b.k) continue;
      const dx = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const dy = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (dx > 1 && dy > 1) overlaps.push(`"${a.text}" overlaps "${b.text}"`);
    }
  return JSON.stringify({overflows, overlaps, text_boxes: boxes.length});
})()"""


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH, or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Cdp:
    """One Chromium process and the CDP pipe to it."""

    def __init__(self, binary: str, workdir: Path, timeout: float):
        self.deadline = time.monotonic() + timeout
        self.next_id = 0
        self.buf = b""
        self.events: list[dict] = []
        self.stderr_path = workdir / "stderr.txt"
        cmd_r, self.cmd_w = os.pipe()  # we write commands, Chromium reads fd 3
        self.res_r, res_w = os.pipe()  # Chromium writes fd 4, we read
        # Move the child's ends above 10 so that putting them on 3/4 cannot clobber one another.
        child_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(res_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(res_w)
        args = [binary, *FLAGS, f"--user-data-dir={workdir / 'profile'}", "about:blank"]
        try:
            with open(self.stderr_path, "wb") as err:
                # A tiny Python trampoline moves the pipe ends onto fds 3 and 4 and execs
                # Chromium (safer than preexec_fn in a process that may have threads).
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", TRAMPOLINE, str(child_r), str(child_w), *args],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    pass_fds=(child_r, child_w), start_new_session=True,  # own group: killpg gets helpers too
                )
        except BaseException:
            os.close(self.cmd_w)
            os.close(self.res_r)
            raise
        finally:
            os.close(child_r)
            os.close(child_w)

    def stderr_tail(self, n: int = 2000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _read_message(self, until: float) -> dict | None:
        """Next message from Chromium, or None if `until` passes first."""
        while b"\0" not in self.buf:
            if time.monotonic() > self.deadline:
                raise RuntimeError(f"timed out talking to Chromium; stderr tail:\n{self.stderr_tail()}")
            wait = min(until, self.deadline) - time.monotonic()
            if wait <= 0:
                return None
            if not select.select([self.res_r], [], [], wait)[0]:
                continue
            chunk = os.read(self.res_r, 1 << 16)
            if not chunk:
                try:
                    code = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                raise RuntimeError(f"Chromium exited early (code {code}); stderr tail:\n{self.stderr_tail()}")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and wait for its response, keeping events seen meanwhile."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read_message(self.deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"CDP {method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        while True:
            for ev in self.events:
                if ev["method"] == method:
                    return ev
            self.events.append(self._read_message(self.deadline))

    def drain(self, seconds: float) -> None:
        """Collect events for `seconds` (lets late console messages arrive)."""
        until = time.monotonic() + seconds
        while (msg := self._read_message(until)) is not None:
            if "method" in msg:
                self.events.append(msg)

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for fd in (self.cmd_w, self.res_r):
            os.close(fd)


def _describe_args(args: list[dict]) -> str:
    return " ".join(str(a["value"]) if "value" in a else a.get("description", a.get("type", "")) for a in args)


def inspect_page(html_path: Path, screenshot_path: Path | None = None, timeout: float = 60.0,
                 width: int = 1280) -> dict:
    """Load file://html_path, wait for the load event (plus a short settle), and return
    {"images": [{"id", "alt", "complete", "natural_width", "natural_height",
                 "rendered_width", "rendered_height"}, ...],
     "console_errors": [str, ...],  # console.error/assert and Log entries with level error
     "exceptions": [str, ...],      # uncaught exceptions (Runtime.exceptionThrown)
     "title": document.title,
     "overflows": [str, ...],       # the page or a visible element wider than its container,
                                    # or a container showing a horizontal scroll bar
     "overlaps": [str, ...],        # pairs of visible text boxes that overprint each other
     "text_boxes": int}             # how many text boxes were checked
    and, if screenshot_path is given, save a full-page PNG screenshot there."""
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("no chromium binary found on PATH")
    workdir = Path(tempfile.mkdtemp(prefix="unlearnlab-chromium-"))
    cdp = None
    try:
        cdp = _Cdp(binary, workdir, timeout)
        target = cdp.send("Target.createTarget", url="about:blank")["targetId"]
        sid = cdp.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            cdp.send(f"{domain}.enable", sid)
        cdp.send("Emulation.setDeviceMetricsOverride", sid, width=width, height=800,
                 deviceScaleFactor=1, mobile=False)
        nav = cdp.send("Page.navigate", sid, url=Path(html_path).resolve().as_uri())
        if nav.get("errorText"):
            raise RuntimeError(f"navigation to {html_path} failed: {nav['errorText']}")
        cdp.wait_event("Page.loadEventFired")
        cdp.drain(0.2)
        value = cdp.send("Runtime.evaluate", sid, expression=IMAGES_JS, returnByValue=True)
        facts = json.loads(value["result"]["value"])
        layout = cdp.send("Runtime.evaluate", sid, expression=LAYOUT_JS, returnByValue=True)
        facts["layout"] = json.loads(layout["result"]["value"])

        if screenshot_path is not None:
            metrics = cdp.send("Page.getLayoutMetrics", sid)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            cdp.send("Emulation.setDeviceMetricsOverride", sid, width=width,
                     height=max(1, math.ceil(size["height"])), deviceScaleFactor=1, mobile=False)
            shot = cdp.send("Page.captureScreenshot", sid, format="png", captureBeyondViewport=True)
            Path(screenshot_path).write_bytes(base64.b64decode(shot["data"]))

        errors, exceptions = [], []
        for ev in cdp.events:
            if ev.get("sessionId") != sid:
                continue
            p = ev["params"]
            if ev["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                errors.append(_describe_args(p.get("args", [])))
            elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append(p["entry"]["text"])
            elif ev["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
        return {"images": facts["images"], "console_errors": errors,
                "exceptions": exceptions, "title": facts["title"], **facts["layout"]}
    finally:
        if cdp is not None:
            cdp.close()
        shutil.rmtree(workdir, ignore_errors=True)
