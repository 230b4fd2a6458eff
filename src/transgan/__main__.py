from transgan.cli.main import main

main()
