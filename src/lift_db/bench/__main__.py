from lift_db.bench.cli import main

raise SystemExit(main())
