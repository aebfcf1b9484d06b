"""Where everything is: the stack's URLs and DSNs, printed by `radiolake stack up|status` and by the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from radiolake.stack.stack import Stack


def print_endpoints(console: Console, stack: Stack, show_secrets: bool = False) -> None:
    """Plain `name: value` lines, so a DSN or URL can be copied whole; passwords masked unless asked."""
    console.rule("Radio Star Lakehouse")
    endpoints = stack.endpoints(show_secrets=show_secrets)
    width = max(len(name) for name in endpoints)
    for name, value in endpoints.items():
        console.print(f"[bold]{name:<{width}}[/]  {value}", soft_wrap=True, highlight=False)
    if not show_secrets:
        console.print(f"[dim]passwords: {stack.state.secrets_file} (mode 0600), or add --show-secrets[/]",
                      soft_wrap=True, highlight=False)
