"""Progress of long stages: a tqdm bar with ETA on a terminal; elsewhere (CI, logs, nohup)
one plain line every `every` seconds and at the end, so a redirected run never sits silent:

    pretrain: 120/900 steps (13%), loss 2.3100, 1m05s elapsed, ETA 7m02s
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

from unlearnlab import distributed

EVERY = 30.0          # seconds between plain progress lines off a terminal


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    """`for i in Progress(n, desc)`; `.note(**fields)` sets what the next line shows.
    `enabled=False` shows nothing, and neither does any rank but 0 of a distributed run;
    `stream` defaults to stderr."""

    def __init__(self, total: int, desc: str, enabled: bool = True, every: float | None = None,
                 unit: str = "steps", stream=None):
        self.total, self.desc, self.unit = total, desc, unit
        self.every = EVERY if every is None else every
        self.stream = stream or sys.stderr
        self.enabled = enabled and distributed.is_main()
        self.terminal = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.fields: dict[str, str] = {}
        self.bar = tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True,
                        file=self.stream) if self.terminal else None
        self.start = self.last = time.perf_counter()
        self.done = 0

    def __iter__(self):
        for i in range(self.total):
            yield i
            self.update()
        self.close()

    def note(self, **fields) -> None:
        self.fields = {k: f"{v:.4f}" if isinstance(v, float) else str(v) for k, v in fields.items()}
        if self.bar is not None:
            self.bar.set_postfix(self.fields)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if self.enabled and now - self.last >= self.every and self.done < self.total:
            self.last = now
            self._line(now)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.total and time.perf_counter() - self.start >= self.every:
            self._line(time.perf_counter())              # a closing line for long stages only

    def line(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        elapsed = now - self.start
        share = self.done / self.total if self.total else 1.0
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        extra = "".join(f", {k} {v}" for k, v in self.fields.items())
        return (f"{self.desc}: {self.done}/{self.total} {self.unit} ({share:.0%}){extra}, "
                f"{_clock(elapsed)} elapsed" + (f", ETA {_clock(eta)}" if eta is not None and
                                                 self.done < self.total else ""))

    def _line(self, now: float) -> None:
        print(self.line(now), file=self.stream, flush=True)
