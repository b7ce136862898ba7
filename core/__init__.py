"""The bottom layer every package may use: the stage contract, errors, atomic I/O, the run layout."""
