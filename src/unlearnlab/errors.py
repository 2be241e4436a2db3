"""Exceptions the user sees as one line: bad input, and training that diverged.

The CLI turns a `UserError` into one line on stderr and exit code 2, never a traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message names the problem and the valid options."""


class Diverged(UserError):
    """Training stopped: the loss (or gradient norm) stopped being finite, or exploded. An
    unlearning method that diverges is recorded as such and the run goes on; a divergence
    elsewhere (pretraining, learning) ends the run with this one line."""

    def __init__(self, desc: str, step: int, reason: str):
        self.desc, self.step, self.reason = desc, step, reason
        super().__init__(f"{desc}: diverged at step {step} ({reason}); lower the learning rate")
