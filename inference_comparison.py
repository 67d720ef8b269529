#!/usr/bin/env python
"""Compare generation methods headless: `python inference_comparison.py --config configs/quick.json`.

`python inference_comparison.py compare RUN_A RUN_B ...` compares finished runs. See ./run.sh --help.
"""

import sys

from inference_lab.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(main(argv if argv[:1] == ["compare"] else ["run", *argv]))
