"""`python generate.py ...` in a checkout: the same as `ragft generate ...`."""

from ragft.generate import main

if __name__ == "__main__":
    main()
