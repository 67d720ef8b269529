#!/usr/bin/env python
"""Check that this machine can run inference-lab: `python test_setup.py [--config F] [--download] [--json]`.

Exit 0 when every required check passes, 1 otherwise. See `python test_setup.py --help`.
"""

import sys

from inference_lab.cli import main

if __name__ == "__main__":
    sys.exit(main(["check", *sys.argv[1:]]))
