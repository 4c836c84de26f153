"""Speed and memory measurements of ``sketchlib`` (see ``benchmarks/README.md``); run from the repository root."""
