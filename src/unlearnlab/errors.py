"""The one exception type for bad user input.

The CLI turns a `UserError` into one line on stderr and exit code 2, never a traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message names the problem and the valid options."""
