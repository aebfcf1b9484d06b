"""Objects shared by the conftest files, in a plain module so there is exactly one instance of each."""

import pytest

#: config.stash key of the session's Stack (created at configure time, started by the `stack` fixture).
STACK_KEY: pytest.StashKey = pytest.StashKey()
