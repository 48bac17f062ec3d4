"""The edges of subtext: the `subtext` command line (cli.py) and the Prefect flow that
runs the corpus library's build (corpus_flow.py, served to the UI by serve.py)."""
