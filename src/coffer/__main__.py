from coffer.cli.main import main

main()
