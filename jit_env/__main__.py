"""``python -m jit_env`` runs the ``jit-env`` command."""

import sys

from jit_env.cli import main

sys.exit(main())
