#!/usr/bin/env python
"""Compare generation methods headless: `python inference_comparison.py configs/quick.json` (or `--config FILE`).

The methods mode of `inference-lab`; `python inference_comparison.py compare RUN_A RUN_B ...` compares finished
runs. See ./run.sh help.
"""

import sys

from inference_lab.launch import run

if __name__ == "__main__":
    argv = sys.argv[1:]
    run(argv if argv[:1] == ["compare"] else ["methods", *argv])
