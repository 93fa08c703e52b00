"""Rendering: answers and reports in each platform's markup. Pure functions, no I/O."""
