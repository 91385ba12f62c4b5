"""`python -m syncd.emulator ...` runs the emulator (same arguments as `syncd emulator`)."""

import sys

from syncd.emulator.server import main

if __name__ == "__main__":
    sys.exit(main())
