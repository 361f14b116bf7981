from ai.nemotron.cli import main

main()
