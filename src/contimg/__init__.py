"""contimg: radio continuum imaging with WSClean in one worker container per run."""

from __future__ import annotations

__version__ = "0.1.0"
