from transgan.cli import main

main()
