"""`python -m manifold_pipelines.cli`, the same as the `manifold` command."""

from manifold_pipelines.cli import main

main()
