"""``python -m humekit.emulator``: run the emulator standalone."""

from humekit.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["emulator", *__import__("sys").argv[1:]]))
