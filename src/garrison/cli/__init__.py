"""The command line: parse, load config, call one function, render, exit. No logic here."""
