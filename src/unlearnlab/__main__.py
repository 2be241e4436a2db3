import sys

from unlearnlab.cli import main

sys.exit(main())
