"""``python -m appliance.cli``: the same entry point as the ``tapaudit`` script."""

import sys

from appliance.cli.main import main

sys.exit(main())
