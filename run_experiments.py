#!/usr/bin/env python
"""The interactive menu: `python run_experiments.py` (or just `./run.sh`). Needs a terminal.

Without one it prints the headless commands and exits 2. Options: --configs DIR, --output DIR.
"""

import sys

from inference_lab.launch import run

if __name__ == "__main__":
    run(["menu", *sys.argv[1:]])
