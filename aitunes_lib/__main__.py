import sys

from aitunes_lib.cli import main

sys.exit(main())
