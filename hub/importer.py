"""`hub customers import FILE.csv`: placeholder replaced below."""
