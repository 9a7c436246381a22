from kraft.cli.main import main

main()
