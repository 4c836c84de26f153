"""``python -m sketchlib COMMAND``: see :mod:`sketchlib.cli`."""

from sketchlib.cli import main

raise SystemExit(main())
