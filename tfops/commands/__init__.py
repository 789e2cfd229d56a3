"""One module per subcommand; `tfops.cli` parses options and calls these."""
