"""``python -m gradcheck_cli``: the same as the ``gradcheck`` command."""

from gradcheck_cli.cli import main

main()
