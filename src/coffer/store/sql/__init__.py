"""``SqlStore``'s parts: the base (transactions, constraint translation, row mapping) and one module per aggregate."""
