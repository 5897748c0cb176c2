#!/usr/bin/env python3
"""Classic AGI: log the start of a hotline call (same handler as FastAGI ``call-start``).

Dialplan: ``AGI(/opt/hotline-cti/agi_scripts/call_start.py,<query>)``; see
docs/asterisk.md. Run with the Python that has the ``cti`` package installed.
"""

from cti.agi.classic import main

if __name__ == "__main__":
    main("call-start")
