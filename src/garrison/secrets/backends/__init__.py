"""Secret backends: one ABC (interface.py) and one implementation per file."""
