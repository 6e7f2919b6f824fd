"""FreeRADIUS: the stock SQL schema on the `radius` bind, and the writers that map our objects to attributes."""
from __future__ import annotations

from pathlib import Path

# pyrad's dictionary of the attributes we send and read (the app's CoA client and the simulator's NAS share it).
DICTIONARY = Path(__file__).with_name("dictionary")
