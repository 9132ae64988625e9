"""`python run.py ...` from a checkout: the same as `ragft run ...` (the flow is ragft/run.py)."""

from ragft.run import main

if __name__ == "__main__":
    main()
