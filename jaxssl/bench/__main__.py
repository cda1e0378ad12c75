"""`python -m jaxssl.bench`: see `jaxssl.bench` for the sub-commands."""

from jaxssl.bench import main

if __name__ == "__main__":
  main()
