from cumulo.cli.main import main

main()
