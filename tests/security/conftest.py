"""The console tests' demo world (agents Sam, Kim and Boss) and its live web server, for the attacks
on the web app; a module that needs another world defines its own `world`."""

from tests.test_console import live, world  # noqa: F401 - fixtures, used by name
