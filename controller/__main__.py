"""`python -m controller ...` is `synproxyctl ...`."""

import sys

from .cli import main

sys.exit(main())
