"""The command line: `transgan` and its commands, one module each."""

from transgan.cli.main import main

__all__ = ["main"]
