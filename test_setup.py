#!/usr/bin/env python
"""Check that this machine can run inference-lab: `python test_setup.py [--config F] [--download] [--json]`.

Exit 0 when every required check passes, 1 otherwise. See `python test_setup.py --help`.
"""

import sys

from inference_lab.launch import run

if __name__ == "__main__":
    run(["check", *sys.argv[1:]])
