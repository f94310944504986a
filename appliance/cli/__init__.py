"""The command line: one module per group of commands, errors turned into exit codes in ``main``."""
