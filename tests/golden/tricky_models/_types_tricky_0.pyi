"""Private: built on first use. Written by rtbfast; do not edit."""

from typing import Any

def __getattr__(name: str) -> Any: ...
