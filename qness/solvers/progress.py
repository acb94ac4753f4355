"""Progress of long solves: a tqdm bar (``progress=True``) and INFO records on the ``qness`` logger.

Both report the same things: the solver's iterations and its residual
estimate. The log is throttled (a record at the start, at most one a second
while iterating, and one at the end) so a long GMRES run does not flood it.
Enable the records with ``logging.getLogger("qness").setLevel(logging.INFO)``
(and a handler, e.g. ``logging.basicConfig()``).
"""

from __future__ import annotations

import logging
import time

__all__ = ["Progress", "logger"]

logger = logging.getLogger("qness")


class Progress:
    """One solver phase: ``step(residual)`` per iteration, ``close(message)`` at the end.

    Parameters
    ----------
    enabled : bool
        Show a tqdm bar on stderr.
    desc : str
        Name of the phase (``"Krylov"``, ``"Evolve"``, ...).
    total : int, optional
        Expected number of steps (the bar's length; e.g. ``maxiter``).
    unit : str
        Unit of a step.
    interval : float
        Seconds between two INFO records while iterating.
    """

    def __init__(self, enabled: bool, desc: str, total: int | None = None, unit: str = "it", interval=1.0):
        self.desc = desc
        self.count = 0
        self.interval = interval
        self._last = time.perf_counter()
        self.bar = None
        self.post = {}
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"qness {desc}", unit=unit, leave=False, dynamic_ncols=True)
        logger.info("%s: start%s", desc, f" (at most {total} {unit})" if total else "")

    def step(self, residual: float | None = None, n: int = 1, **fields) -> None:
        """Record ``n`` more steps and the latest residual (and other named numbers)."""
        self.count += n
        post = {}
        if residual is not None:
            post["residual"] = f"{residual:.2e}"
        post.update({k: f"{v:.3g}" if isinstance(v, float) else v for k, v in fields.items()})
        self.post = post
        if self.bar is not None:
            self.bar.update(n)
            if post:
                self.bar.set_postfix(post, refresh=False)
        now = time.perf_counter()
        if now - self._last >= self.interval and logger.isEnabledFor(logging.INFO):
            self._last = now
            logger.info("%s: %d %s", self.desc, self.count, " ".join(f"{k}={v}" for k, v in post.items()))

    def __call__(self, residual) -> None:
        # as a solver callback: SciPy's lgmres/bicgstab pass the iterate, qness's gmres the residual
        self.step(residual if isinstance(residual, float) else None)

    def close(self, message: str = "") -> None:
        """Close the bar (showing the last state) and log the outcome."""
        if self.bar is not None:
            if self.post:
                self.bar.set_postfix(self.post, refresh=False)
            self.bar.refresh()
            self.bar.close()
            self.bar = None
        last = " ".join(f"{k}={v}" for k, v in self.post.items())
        logger.info(
            "%s: done after %d steps%s%s",
            self.desc,
            self.count,
            f", {last}" if last else "",
            f"; {message}" if message else "",
        )
