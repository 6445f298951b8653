from shopmatch.cli import main

main()
