// Scale benchmarks (issue 18): many accounts in one process, several runners on one database. Prints figures.
print("scale-bench: not written yet")
