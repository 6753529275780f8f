"""AI-Tunes: from public-domain lead sheets to new songs, one small stage per module."""

from aitunes_lib.song import Song

__all__ = ["Song"]
__version__ = "0.1.0"
