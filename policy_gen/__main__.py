"""``python -m policy_gen``: see ``policy_gen.cli``."""

from policy_gen.cli import main

raise SystemExit(main())
