"""``python -m bot`` runs the briefbot command."""

from bot.cli import main

main()
