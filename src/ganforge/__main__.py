"""`python -m ganforge ...` (also what torchrun runs: `torchrun -m ganforge train ...`)."""

from ganforge.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
