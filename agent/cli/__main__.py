"""`python -m autodidact.agent.cli ...` runs the `autodidact` command."""

import sys

from . import main

sys.exit(main())
