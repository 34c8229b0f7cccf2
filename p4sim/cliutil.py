"""What the two command lines share: `--help` that shows each option's default."""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends `(default: X)` to an option's help when it has a default worth saying
    (not None, False or empty) and its help does not already name one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
            or action.option_strings == []
        ):
            return text
        return f"{text} (default: %(default)s)"
