import sys

from crawlsieve.pipelines.cli import main

sys.exit(main())
