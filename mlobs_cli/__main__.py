from mlobs_cli.app import main

main()
