from tfops.cli import main

main()
