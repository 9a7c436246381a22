from kraft.cli import main

main()
