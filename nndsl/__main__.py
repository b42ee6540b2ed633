from nndsl.cli.main import main

raise SystemExit(main())
