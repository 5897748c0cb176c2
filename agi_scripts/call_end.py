#!/usr/bin/env python3
"""Classic AGI: log the end of a hotline call (same handler as FastAGI ``call-end``),
from the hangup handler. See docs/asterisk.md."""

from cti.agi.classic import main

if __name__ == "__main__":
    main("call-end")
