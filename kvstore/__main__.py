import sys

from kvstore.server import main

sys.exit(main())
