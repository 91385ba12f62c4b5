"""`python3 -m benchmarks [--quick] [--case NAME ...] [--repeat N] [--out DIR]` (see run.py)."""

import sys

from benchmarks.run import main

sys.exit(main())
