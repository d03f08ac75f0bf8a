"""``python -m gradcheck_cli``: the same as the ``gradcheck`` command."""

from gradcheck_cli.cli import main

if __name__ == "__main__":  # not when a worker process re-imports the parent's main module
    main()
