import sys

from digitlens.cli import main

sys.exit(main())
