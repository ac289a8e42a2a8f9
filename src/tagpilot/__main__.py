"""`python -m tagpilot` runs the command line."""

from tagpilot.cli.main import main

if __name__ == "__main__":
    main()
