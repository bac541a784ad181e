from bugsift.cli import main

main()
